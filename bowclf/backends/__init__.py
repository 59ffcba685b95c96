"""Where the training data lives and how an epoch reads it.

Each backend produces a :class:`bowclf.training.CorpusStats` describing the corpus and a
*source* whose ``epoch(ctx)`` runs one pass through :func:`bowclf.training.train`:

- :mod:`.memory` — count matrices held in memory (``fit``, ``partial_fit``);
- :mod:`.disk` — a corpus file tokenised once into an on-disk cache (``fit --stream``);
- :mod:`.dask` — partitions on a Dask cluster, trained as merged replicas.

No backend sets an estimator attribute: the estimators read the stats and own their state.
"""
