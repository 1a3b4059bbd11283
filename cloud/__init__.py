"""The cloud side: uploader, database + job queue, object store, training, rendering, API, mail."""
