"""Corpus preparation: raw corpus -> JSONL manifests (``hypersp-prepare CORPUS``).

- :mod:`hypersp.prepare.framework`: the shared machinery of the real-corpus preparers (discover, shard,
  process in parallel, merge, report; resumable), with the :class:`~hypersp.prepare.framework.Preparer` base.
- :mod:`hypersp.prepare.aihub` (klecspeech, kconfspeech, krespspeech, ktelspeech),
  :mod:`hypersp.prepare.ksponspeech`, :mod:`hypersp.prepare.librispeech`: the preparers of the six corpora.
- :mod:`hypersp.prepare.synthetic`: the built-in synthetic Korean corpus (eSpeak NG, no download).
- :mod:`hypersp.prepare.atomic`: files published only when complete, so an interrupted run resumes exactly.

Tasks (:mod:`hypersp.tasks`) register the corpora by name and call these from their ``prepare``
classmethod; nothing here imports a task. Reading manifests back is :mod:`hypersp.data`'s job.
"""
