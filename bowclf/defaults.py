"""Default hyper-parameters, in one place for the estimators and the command line.

A tiny module with no imports, so the command line can show its defaults without loading
numpy or scikit-learn.  The reasons for each value are in the estimators' docstrings
(:class:`bowclf.BowClassifier`, :class:`bowclf.TextClassifier`).
"""

DIM = 100
EPOCHS = "auto"
#: ``epochs='auto'``: about this many example updates, in AUTO_MIN_EPOCHS to AUTO_MAX_EPOCHS
#: passes (``min(10, max(5, ⌈200000/n⌉))`` over n documents; ``auto_rules.resolve_epochs``).
AUTO_EPOCH_UPDATES = 200_000
AUTO_MIN_EPOCHS = 5
AUTO_MAX_EPOCHS = 10
#: ``epochs='auto'`` with two classes: a binary task has one decision direction, learnt in
#: fewer passes; more of them fit the training set's noise (bench/RESULTS-devsuite.md).
BINARY_EPOCHS = 5
#: ``epochs='auto'`` ceiling (instead of 10) for single-label softmax tasks of three or more
#: classes trained by the adaptive optimiser on ``l2`` rows (long documents): small corpora
#: of them are still underfit after 10 passes (bench/RESULTS-devsuite.md).
LONG_MULTICLASS_EPOCHS = 15
#: Runs of ``epochs='auto'`` probed for early overfitting (``auto_rules.probes_overfitting``,
#: :mod:`bowclf.overfit_probe`): at least this many resolved passes and documents.
OVERFIT_PROBE_MIN_EPOCHS = 10
OVERFIT_PROBE_MIN_DOCUMENTS = 2000
#: Two-class runs of short documents are probed up to this many documents: the restart's gain
#: on noisy labels was gone on larger corpora, while the two passes a run still learning adds
#: grow with the corpus (bench/RESULTS-devsuite.md).
BINARY_PROBE_MAX_DOCUMENTS = 15_000
LR = "auto"
#: ``lr='auto'``: the initial learning rate of every task but those of MULTICLASS_LR.
BASE_LR = 0.25
#: ``lr='auto'`` for single-label softmax tasks of three or more classes trained by the
#: adaptive optimiser on ``l1`` rows (short documents): their many rows of ``B`` are underfit
#: at BASE_LR before AdaGrad's steps shrink (bench/RESULTS-devsuite.md).
MULTICLASS_LR = 0.35
#: The softmax margin a single-label task of three or more classes trained by the adaptive
#: optimiser reaches at the end of its schedule (``auto_rules.resolve_margin``,
#: ``_math.ramped_margin``; bench/RESULTS-devsuite.md).
MULTICLASS_MARGIN = 2.0
#: The generalized cross-entropy exponent of single-label two-class softmax tasks of short
#: documents (``l1`` rows) trained by the adaptive optimiser (``auto_rules.resolve_gce``,
#: ``_math.gce_sample_weights``; bench/RESULTS-devsuite.md): each example's gradient weighted
#: by the probability the model gives its label, each class's weight in the batch kept.
BINARY_GCE = 1.0
#: ``TextClassifier(ngram_weight='auto')``: the factor on the term weights of the hashed
#: n-gram columns for the tasks of BINARY_GCE (``auto_rules.resolve_ngram_weight``;
#: bench/RESULTS-devsuite.md); every other task keeps 1.
BINARY_NGRAM_WEIGHT = 0.7
NGRAM_WEIGHT = "auto"
OPTIMIZER = "auto"  # "adaptive" for softmax, "sgd" (fastText's plain SGD) for ova
BATCH_SIZE = "auto"  # 1 on dense rows, else SPARSE_BATCH
SPARSE_BATCH = 32
LOSS = "softmax"
NORMALIZE = "l1"  # BowClassifier; TextClassifier: TEXT_NORMALIZE
TEXT_NORMALIZE = "auto"  # "l2" for long documents with an adaptive optimiser, else "l1"
N_ITER_NO_CHANGE = 3
VALIDATION_FRACTION = 0.1
TOL = 1e-4
NGRAMS = 2
BUCKETS = 2_000_000
MIN_COUNT = 1
MINN = 0
MAXN = 0
TOKENIZER = "default"
USE_IDF = True
#: ``TextClassifier(supervised_weight=…)``: idf weights times ``1 + β·g_j`` (``g_j`` from the
#: features' log-count ratios between classes: their maximum, plus their share-weighted mean
#: for three or more classes) for single-label tasks
#: (bench/RESULTS-devsuite.md).
SUPERVISED_WEIGHT = 0.5
SUBLINEAR_TF = "auto"  # True for long documents
MIN_DF = "auto"  # LONG_MIN_DF for long documents, else 1
#: TextClassifier's 'auto' inputs: a corpus is of *long documents* when its documents hold on
#: average at least this many distinct vocabulary words.
LONG_DOCUMENT_WORDS = 64
#: ``min_df='auto'`` for long documents: features of a single training document are dropped.
LONG_MIN_DF = 2
#: ... unless that would keep fewer than this share of the features seen: a corpus of a few
#: documents that share almost nothing (two documents: every feature but one dropped).  The
#: long corpora measured keep far more, and gain from ``min_df=2`` (bench/RESULTS-devsuite.md).
LONG_MIN_DF_KEEP = 0.01
PRUNE_FEATURES = True

#: A compressed corpus (gzip, bzip2, xz) counts this many times its size as text when
#: choosing in memory or out of core (text is typically 3-5 times its compressed size).
COMPRESSION_FACTOR = 4

#: Corpora with more text than this are trained out of core by ``bowclf fit``.  In memory a
#: fit peaks at many times the CSV's size; out of core its peak does not grow with the corpus
#: (bench/RESULTS-outofcore.md), so this bounds the peak of in-memory fits.
STREAM_BYTES = 256 * 2**20

#: Out-of-core training reads corpora with at least this much text on ``n_jobs`` worker
#: processes; smaller ones are read faster in one process than the workers start and share
#: the work (the break-even with ``fork`` is measured in bench/RESULTS-threads.md;
#: ``spawn``/``forkserver`` workers take seconds more to start).
PARALLEL_PASS_BYTES = 64 * 2**20

#: Hierarchical softmax decides multi-label predictions by search above this many labels
#: (the crossover measured in bench/RESULTS-hs.md since predictions score rows alone).
HS_SEARCH_MIN_CLASSES = 512

#: ``bowclf.autotune`` / ``bowclf fit --autotune``: the search's budget and metric.
AUTOTUNE_TIME = "5m"
AUTOTUNE_METRIC = "accuracy"

#: ``bowclf serve``: the largest request body, the most documents a request may hold, the
#: most documents a batched model call takes, and how long (seconds) a batch waits for more
#: under concurrent load (``bowclf.serve.ServeConfig``).
SERVE_MAX_BODY_BYTES = 4 << 20
SERVE_MAX_TEXTS = 1000
SERVE_MAX_BATCH = 2048
SERVE_BATCH_WINDOW = 0.002
