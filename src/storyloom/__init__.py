"""storyloom: turn a heap of news articles from many outlets into stories.

The package is organised along the data flow: ingest → clean → (enrich → copies → stories → compare) →
store → serve.  Each stage is a plain module with a small typed API; the CLI is a thin shell over it.
"""

__version__ = "0.1.0"
