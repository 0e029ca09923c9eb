"""DICOM networking: the storage SCP (receiver), query/retrieve/send against a configured PACS, DICOMweb.

One module per job:

- :mod:`engine.net.uids`: UID validation and the UID-only file layout ``<study>/<series>/<instance>.dcm``.
- :mod:`engine.net.instance_store`: atomic, no-clobber writes of received instances.
- :mod:`engine.net.store_handler`: one C-STORE request -> a file on disk + the response status.
- :mod:`engine.net.indexer`: batches received files into the catalog (one import per association).
- :mod:`engine.net.storage_scp`: :class:`~engine.net.storage_scp.StorageServer`, the C-STORE/C-ECHO SCP.
- :mod:`engine.net.pacs_config`: the ``pacs.json`` list of configured peers.
- :mod:`engine.net.association`: opening an SCU association with clear errors.
- :mod:`engine.net.echo`, :mod:`engine.net.query`, :mod:`engine.net.retrieve`, :mod:`engine.net.send`:
  C-ECHO, C-FIND, C-MOVE / C-GET and C-STORE as an SCU.
- :mod:`engine.net.matches`: query results (C-FIND or QIDO-RS) as plain records.
- :mod:`engine.net.dicomweb`: QIDO-RS, WADO-RS and STOW-RS with optional basic / token auth.
- :mod:`engine.net.query_retrieve`: the window's query/retrieve dialog logic (search criteria, results
  rows, retrieve with progress and cancel into the catalog, priors of the open patient).

Modules are imported on demand (``from engine.net.storage_scp import StorageServer``); this package
imports nothing, so that importing it stays cheap.
"""

DEFAULT_AE_TITLE = "SIGHTLINE"  # our AE title unless the user sets another
