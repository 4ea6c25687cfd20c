"""Batch runs over large inputs: the same stage functions as the local pipeline, on Spark or locally.

* :mod:`storyloom.batch.spark` — the Spark job (imported only when used; PySpark is an optional extra);
* :mod:`storyloom.batch.local` — the local pipeline into a scratch store, exported as the same tables;
* :mod:`storyloom.batch.stages` — the per-record and per-block work both call (plain Python);
* :mod:`storyloom.batch.report` — what a run reports (counts, seconds per stage, notes), either engine;
* :mod:`storyloom.batch.tables` — the Parquet tables a run writes;
* :mod:`storyloom.batch.loader` — ``storyloom load``: those tables into the SQLite store;
The ``batch`` and ``load`` commands live with the other commands, in :mod:`storyloom.cli.batch`.
"""
