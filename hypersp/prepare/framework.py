"""Shared machinery of the corpus preparers: discover, shard, process in parallel, merge, report.

How one ``hypersp-prepare CORPUS --root RAW --out OUT --jobs N`` runs:

1. **Discover** (one process, streaming): walk ``RAW`` once (``os.walk``, any depth), classify
   every file (audio, transcript, session JSON, OS junk such as ``Zone.Identifier`` /
   ``.DS_Store`` / ``Thumbs.db`` / ``._*``, documentation, other) and append each useful
   file as one JSON line to shard ``hash(group) % shards`` under ``OUT/.work/``. A *group* is
   what must be seen together: an AIHub session, a LibriSpeech chapter, a KsponSpeech
   utterance. Nothing is held in memory but counters.
2. **Process** (``N`` worker processes): each shard is read, grouped, and every group is turned
   into manifest records or skip reasons by the corpus's :meth:`Preparer.process_group`.
   Audio headers only are read (``soundfile.info``, or the byte size of ``.pcm``). A shard
   writes ``shard-XXXX.<split>.jsonl`` and then its ``shard-XXXX.done.json`` marker; memory per
   worker is one shard (the corpus divided by ``shards``).
3. **Merge**: shard outputs are concatenated per split into ``OUT/<split>.jsonl`` and the
   counts summed into ``OUT/report.json``.

**Resumable**: an interrupted run keeps ``OUT/.work``; rerunning with the same root and
options skips the walk if it finished and every shard that has its done marker. Every file is
published only when complete (a temporary name, fsync, rename: :mod:`hypersp.prepare.atomic`), so
a kill at any instant leaves no partial shard, marker, manifest or report under its final name;
a rerun removes the temporary files left behind. Workers ignore SIGINT; on Ctrl-C the parent
stops them (their unfinished shards are redone by the rerun) and raises KeyboardInterrupt.
A finished run is recognised by ``report.json``'s fingerprint and not redone (``force=True`` redoes it).
Different options invalidate the work folder.

**Accounting** (``report.json``): ``utterances.found`` equals ``kept`` plus the sum of
``skipped`` (every reason in :data:`SKIP_REASONS`, zeros included), and
``files_on_disk.total`` is the sum of its categories — nothing is dropped silently.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from hypersp.prepare.atomic import fsync_dir, publish, remove_temporaries, write_text_atomic
from hypersp.text.kspon import MalformedTranscript, clean_etri
from hypersp.text.normalize import normalize_korean

log = logging.getLogger(__name__)

# Part of every run's fingerprint: a folder prepared by another version is redone, never resumed or reused.
# 2: manifest text reads digits with the one numeral reader (hypersp.text.numbers: 3시 -> 세 시, 삼만 오천).
FORMAT_VERSION = 2

SKIP_REASONS = (
    "orphan_label",            # transcript without audio
    "orphan_audio",            # audio without transcript
    "duplicate",               # a second audio or transcript file for an utterance already seen
    "unreadable_audio",        # header cannot be read (corrupt, not audio, broken link)
    "unreadable_label",        # transcript cannot be decoded or parsed
    "malformed_tag",           # ETRI annotation that cannot be resolved (unbalanced brackets)
    "empty_text",              # nothing left after normalization
    "duration_out_of_bounds",  # outside [min_duration, max_duration] seconds
)

FILE_CATEGORIES = ("audio", "transcript", "transcript_list", "session_json", "os_junk", "docs", "other")

OS_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", ".localized"}
MAX_EXAMPLES = 20


def is_os_junk(path: str) -> bool:
    """Files operating systems leave behind: never data, always counted as ``os_junk``."""
    name = os.path.basename(path)
    low = name.lower()
    return (
        low in OS_JUNK_NAMES
        or name.startswith("._")                       # macOS AppleDouble
        or low.endswith(".identifier")                 # Windows 0001.wav:Zone.Identifier
        or "__MACOSX" in path.split(os.sep)
    )


# ------------------------------------------------------------------------------------------
# Items and outcomes
# ------------------------------------------------------------------------------------------
@dataclass
class Item:
    """One discovered thing.

    ``category``: the file category counted in ``files_on_disk`` ("" for things that are not
    files, such as one line of a ``.trn`` list). ``group`` "" means "count only, do not
    process". ``kind`` is interpreted by the corpus (``audio``, ``label``, ``meta``...).
    ``skip`` set: an utterance already known to be skipped at discovery (counted).
    """

    category: str = ""
    group: str = ""
    key: str = ""
    kind: str = ""
    path: str = ""
    split: str = ""
    text: str = ""
    skip: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps([self.group, self.key, self.kind, self.path, self.split, self.text, self.extra],
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "Item":
        g, k, kind, p, s, t, e = json.loads(line)
        return cls(group=g, key=k, kind=kind, path=p, split=s, text=t, extra=e)


@dataclass
class Outcome:
    """What became of one utterance candidate: kept (``record`` set) or skipped (``reason``)."""

    reason: str = "kept"
    split: str = ""
    record: Optional[Dict[str, Any]] = None
    notes: List[str] = field(default_factory=list)
    example: Optional[Dict[str, Any]] = None  # for skipped ones: what to show in the report


def kept(split: str, record: Dict[str, Any], notes: Iterable[str] = ()) -> Outcome:
    return Outcome("kept", split, record, list(notes))


def skipped(reason: str, example: Dict[str, Any], notes: Iterable[str] = ()) -> Outcome:
    assert reason in SKIP_REASONS, reason
    return Outcome(reason, "", None, list(notes), example)


@dataclass
class PrepareOptions:
    """Options every corpus preparer takes (``key=value`` on the ``hypersp-prepare`` command line)."""

    min_duration: float = 0.05          # seconds; shorter utterances are skipped (counted)
    max_duration: float = 60.0          # seconds; longer utterances are skipped (counted)
    shards: int = 256                   # work units; memory per worker ~ corpus / shards
    progress: bool = True               # tqdm progress bars
    keep_work: bool = False             # keep OUT/.work after success (debugging)


@dataclass
class EtriPrepareOptions(PrepareOptions):
    """Transcript options of the corpora written with ETRI conventions (KsponSpeech, AIHub); read by ``etri_target``."""

    transcript_side: str = "spelling"   # spelling | pronunciation: which side of (A)/(B) is the target
    keep_digits: bool = False           # False: digits read as Hangul (dual forms take their reading)
    punctuation: str = "remove"         # remove | keep
    unk_token: str = ""                 # what u/ (unintelligible) becomes; "" deletes it
    fluent: bool = False                # True drops filler (어/) and repeated (전+) words entirely


def etri_target(raw: str, options: EtriPrepareOptions, example: Dict[str, Any], notes: List[str]):
    """Turn an ETRI-convention transcript into a training target, or a skip ``Outcome``.

    Shared by KsponSpeech and the AIHub sets: ``clean_etri`` (dual forms, tags, fillers, repairs
    noted in ``notes``) then ``normalize_korean``.
    """
    o = options
    try:
        cleaned, repairs = clean_etri(raw, side=o.transcript_side, keep_digits=o.keep_digits, unk=o.unk_token, fluent=o.fluent)
    except MalformedTranscript as err:
        return skipped("malformed_tag", {**example, "error": str(err)[:200]}, notes)
    notes.extend(f"repaired_{r}" for r in repairs)
    text = normalize_korean(cleaned, keep_digits=o.keep_digits, punctuation=o.punctuation)
    return text if text else skipped("empty_text", example, notes)


# ------------------------------------------------------------------------------------------
# Small helpers used by the corpora
# ------------------------------------------------------------------------------------------
def stable_fraction(text: str) -> float:
    """A deterministic number in [0, 1) from ``text`` (sha1; same on every machine and run)."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big") / 2.0**64


def shard_of(group: str, shards: int) -> int:
    return int.from_bytes(hashlib.md5(group.encode("utf-8")).digest()[:4], "big") % shards


def decode_text(data: bytes) -> Tuple[str, str]:
    """Bytes of a transcript -> (text, encoding). UTF-8 (BOM stripped) first, then CP949.

    Raises ``UnicodeDecodeError`` when neither fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp949"), "cp949"


def read_transcript(path: str) -> Tuple[str, str]:
    """A one-utterance transcript file -> (text on one line, encoding)."""
    with open(path, "rb") as f:
        text, enc = decode_text(f.read())
    return " ".join(line.strip() for line in text.splitlines() if line.strip()), enc


def sniff_encoding(path: str) -> str:
    """Encoding of a (possibly large) text file, validated incrementally: 'utf-8-sig' or 'cp949'."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        try:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    decoder.decode(b"", final=True)
                    return "utf-8-sig"
                decoder.decode(chunk)
        except UnicodeDecodeError:
            return "cp949"


def audio_header(path: str) -> Tuple[float, int, int]:
    """(duration seconds, sample rate, channels) from the header only. Raises on unreadable."""
    import soundfile as sf

    info = sf.info(path)
    if info.samplerate <= 0:
        raise ValueError(f"{path}: sample rate {info.samplerate}")
    return info.frames / info.samplerate, int(info.samplerate), int(info.channels)


def pcm_duration(path: str, sample_rate: int = 16000) -> Tuple[float, bool]:
    """Headerless PCM16 mono: ((bytes // 2) / rate, odd byte count?). Raises ``OSError``."""
    size = os.stat(path).st_size
    return (size // 2) / sample_rate, bool(size % 2)


def pair_by_key(audio: List[Item], labels: List[Item]) -> Iterator[Tuple[str, Optional[Item], Optional[Item], List[Item]]]:
    """Pair audio and label items of one group by ``key``.

    Yields ``(key, audio_or_None, label_or_None, duplicates)`` in key order; when a key has
    several audio (or label) files the one with the shortest path is used (a copy such as
    ``D60 2/...`` or ``foo (1).wav`` is longer than its original) and the rest are duplicates.
    """
    by_key: Dict[str, Tuple[List[Item], List[Item]]] = defaultdict(lambda: ([], []))
    for it in audio:
        by_key[it.key][0].append(it)
    for it in labels:
        by_key[it.key][1].append(it)
    for key in sorted(by_key):
        a, l = by_key[key]
        a.sort(key=lambda i: (len(i.path), i.path))
        l.sort(key=lambda i: (len(i.path), i.path))
        yield key, (a[0] if a else None), (l[0] if l else None), a[1:] + l[1:]


def in_bounds(duration: float, options: PrepareOptions) -> bool:
    return float(options.min_duration) <= duration <= float(options.max_duration)


def coerce_options(config_cls: type, options: Any) -> Any:
    """A dataclass instance of ``config_cls`` from None, a dataclass, a dict or a DictConfig."""
    if options is None:
        return config_cls()
    if isinstance(options, config_cls):
        return options
    if dataclasses.is_dataclass(options):
        data = dataclasses.asdict(options)
    elif isinstance(options, dict):
        data = dict(options)
    else:
        from omegaconf import OmegaConf

        data = OmegaConf.to_container(options, resolve=True)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown prepare option(s) {unknown} for {config_cls.__name__}; known: {sorted(names)}")
    return config_cls(**data)


# ------------------------------------------------------------------------------------------
# The preparer interface
# ------------------------------------------------------------------------------------------
class Preparer:
    """One corpus's discovery and per-group processing. Must be picklable (sent to workers)."""

    corpus: str = ""

    def __init__(self, root: Path, options: PrepareOptions):
        if not isinstance(options, PrepareOptions):
            raise TypeError(f"{type(self).__name__} options must be a PrepareOptions dataclass, got "
                            f"{type(options).__name__}: build them with coerce_options(ConfigClass, options)")
        if root is None:
            raise FileNotFoundError(f"--root is required: the folder of the raw download (its layout: "
                                    f"examples/{self.corpus or '<corpus>'}/README.md)")
        self.root = Path(root).resolve()
        self.options = options
        self.state: Dict[str, Any] = {}  # set from discovery (persisted for resumed runs)

    def discover(self) -> Iterator[Item]:
        raise NotImplementedError

    def after_discovery(self, summary: Dict[str, Any]) -> Dict[str, Any]:
        """Decide corpus-wide things from the walk (e.g. transcript source); returns ``state``."""
        return {}

    def process_group(self, group: str, items: List[Item]) -> Iterator[Outcome]:
        raise NotImplementedError

    def walk_dirs(self) -> Iterator[Tuple[str, List[str]]]:
        """``(folder, sorted file names)`` for every folder under the root, at any depth."""
        if not self.root.is_dir():
            raise FileNotFoundError(f"--root {str(self.root)!r} is not a directory")
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames.sort()
            yield dirpath, sorted(filenames)

    def walk(self) -> Iterator[str]:
        """Every file under the root, at any depth, in a deterministic order."""
        for dirpath, filenames in self.walk_dirs():
            for name in filenames:
                yield os.path.join(dirpath, name)


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------
_WORKER: Dict[str, Any] = {}


def _init_worker(preparer: Preparer, work: str, worker_process: bool = True) -> None:
    if worker_process:  # Ctrl-C is the parent's to handle (it stops the pool)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["preparer"] = preparer
    _WORKER["work"] = work


def _process_shard(shard: int) -> Dict[str, Any]:
    preparer: Preparer = _WORKER["preparer"]
    work = Path(_WORKER["work"])
    done = work / f"shard-{shard:04d}.done.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    groups: Dict[str, List[Item]] = defaultdict(list)
    n_items = 0
    src = work / f"shard-{shard:04d}.items.jsonl"
    if src.exists():
        with open(src, encoding="utf-8") as f:
            for line in f:
                item = Item.from_json(line)
                groups[item.group].append(item)
                n_items += 1
    counts: Counter = Counter()
    notes: Counter = Counter()
    splits: Dict[str, List[float]] = defaultdict(lambda: [0, 0.0])
    examples: Dict[str, List[Any]] = defaultdict(list)
    writers: Dict[str, Any] = {}
    try:
        for group in sorted(groups):
            for out in preparer.process_group(group, groups[group]):
                notes.update(out.notes)
                counts[out.reason] += 1
                if out.record is not None:
                    w = writers.get(out.split)
                    if w is None:
                        w = writers[out.split] = open(work / f"shard-{shard:04d}.{out.split}.jsonl.tmp", "w",
                                                      encoding="utf-8")
                    w.write(json.dumps(out.record, ensure_ascii=False) + "\n")
                    splits[out.split][0] += 1
                    splits[out.split][1] += float(out.record["duration"])
                elif len(examples[out.reason]) < MAX_EXAMPLES and out.example is not None:
                    examples[out.reason].append(out.example)
    except BaseException:
        for w in writers.values():
            w.close()
        raise
    for w in writers.values():
        w.flush()
        os.fsync(w.fileno())
        w.close()
    for split in writers:
        os.replace(work / f"shard-{shard:04d}.{split}.jsonl.tmp", work / f"shard-{shard:04d}.{split}.jsonl")
    summary = {"shard": shard, "items": n_items, "counts": dict(counts), "notes": dict(notes),
               "splits": {k: v for k, v in splits.items()}, "examples": dict(examples)}
    fsync_dir(work)  # the shard outputs' renames are durable before the done marker
    write_text_atomic(done, json.dumps(summary, ensure_ascii=False))
    return summary


def _options_dict(options: PrepareOptions) -> Dict[str, Any]:
    return dataclasses.asdict(options)


def _progress(options: PrepareOptions, **kw):
    from tqdm import tqdm

    return tqdm(disable=not options.progress, dynamic_ncols=True, **kw)


def _write_json_atomic(path: Path, obj: Any, indent: Optional[int] = None) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=indent))


def run_prepare(preparer: Preparer, out_dir: Path, jobs: int = 1, force: bool = False) -> Dict[str, Any]:
    """Run discovery, parallel processing and merging; write manifests and ``report.json``."""
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(out_dir)  # manifests or report half-written by an interrupted run
    shards = max(1, int(preparer.options.shards))
    fingerprint = _fingerprint(preparer)
    old = _read_report(out_dir / "report.json")
    if not force and _is_complete(old, fingerprint, out_dir):
        log.info("%s: already prepared in %s (same root and options); nothing to do", preparer.corpus, out_dir)
        old["resumed"] = "already complete"
        return old
    work = _work_dir(out_dir, fingerprint, force)
    discovery, resumed_discovery = _discover(preparer, work, shards)
    preparer.state = discovery.get("state", {})
    summaries, resumed_shards = _process_shards(preparer, work, shards, jobs, discovery["items"])
    merged = _merge_counts(discovery, summaries)
    manifests = _write_manifests(out_dir, work, shards, sorted(merged.splits), old.get("manifests") or {})
    report = _build_report(preparer, out_dir, fingerprint, discovery, merged, manifests, jobs, shards,
                           resumed_discovery, resumed_shards, time.time() - t0)
    _write_json_atomic(out_dir / "report.json", report, indent=2)
    fsync_dir(out_dir)
    if not preparer.options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    _log_summary(report)
    return report


def _fingerprint(preparer: Preparer) -> str:
    """What identifies a preparation: corpus, root, options (progress bars aside) and the format version."""
    opts = {k: v for k, v in _options_dict(preparer.options).items() if k != "progress"}
    return hashlib.sha1(
        json.dumps({"corpus": preparer.corpus, "root": str(preparer.root), "options": opts, "v": FORMAT_VERSION},
                   sort_keys=True, ensure_ascii=False).encode("utf-8")
    ).hexdigest()


def _read_report(report_path: Path) -> Dict[str, Any]:
    """The report of an earlier run in the same folder ({} when there is none or it cannot be read)."""
    if not report_path.exists():
        return {}
    try:
        return json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _is_complete(old: Dict[str, Any], fingerprint: str, out_dir: Path) -> bool:
    """An earlier run with the same fingerprint whose manifests are all still there."""
    return bool(old) and old.get("fingerprint") == fingerprint and \
        all((out_dir / m).exists() for m in old.get("manifests", {}).values())


def _work_dir(out_dir: Path, fingerprint: str, force: bool) -> Path:
    """``OUT/.work``, kept from an interrupted run with the same fingerprint, otherwise started afresh."""
    work = out_dir / ".work"
    fp_file = work / "fingerprint"
    if work.exists() and (force or not fp_file.exists() or fp_file.read_text() != fingerprint):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    remove_temporaries(work)
    for tmp in work.glob("*.tmp"):  # shard outputs of a shard that did not finish
        tmp.unlink()
    write_text_atomic(fp_file, fingerprint)
    return work


def _discover(preparer: Preparer, work: Path, shards: int) -> Tuple[Dict[str, Any], bool]:
    """Step 1: the walk, written to the shards' item files; or the finished walk of an interrupted run.
    Returns ``(discovery, resumed)``."""
    disc_file = work / "discovery.done.json"
    if disc_file.exists():
        return json.loads(disc_file.read_text(encoding="utf-8")), True
    discovery = _scan(preparer, work, shards)
    discovery["state"] = preparer.after_discovery(discovery)
    _write_json_atomic(disc_file, discovery)
    return discovery, False


def _scan(preparer: Preparer, work: Path, shards: int) -> Dict[str, Any]:
    """Count every discovered file, note skips known at discovery, append each item to its group's shard."""
    files: Counter = Counter()
    pre_skips: Counter = Counter()
    pre_examples: Dict[str, List[Any]] = defaultdict(list)
    n_items = 0
    last_group, last_shard = None, 0
    handles = [open(work / f"shard-{i:04d}.items.jsonl", "w", encoding="utf-8") for i in range(shards)]
    try:
        with _progress(preparer.options, desc=f"{preparer.corpus}: scanning", unit=" files") as bar:
            for item in preparer.discover():
                if item.category:
                    files[item.category] += 1
                    bar.update(1)
                if item.skip:
                    pre_skips[item.skip] += 1
                    if len(pre_examples[item.skip]) < MAX_EXAMPLES:
                        pre_examples[item.skip].append({"path": item.path, "text_raw": item.text, **item.extra})
                elif item.group:
                    if item.group != last_group:  # items arrive folder by folder: hash once per group run
                        last_group, last_shard = item.group, shard_of(item.group, shards)
                    handles[last_shard].write(item.to_json() + "\n")
                    n_items += 1
    except BaseException:
        for h in handles:
            h.close()
        raise
    for h in handles:  # on disk before discovery.done.json says the walk is finished
        h.flush()
        os.fsync(h.fileno())
        h.close()
    return {"files": dict(files), "skips": dict(pre_skips), "examples": dict(pre_examples), "items": n_items}


def _process_shards(preparer: Preparer, work: Path, shards: int, jobs: int,
                    total_items: int) -> Tuple[List[Dict[str, Any]], int]:
    """Step 2: every shard without its done marker, in ``jobs`` processes. Returns the summaries of all
    shards (in shard order) and how many were done before this run."""
    pending = [s for s in range(shards) if not (work / f"shard-{s:04d}.done.json").exists()]
    resumed_shards = shards - len(pending)
    summaries: List[Dict[str, Any]] = [json.loads((work / f"shard-{s:04d}.done.json").read_text(encoding="utf-8"))
                                       for s in range(shards) if s not in set(pending)]
    with _progress(preparer.options, desc=f"{preparer.corpus}: preparing", unit=" items", total=total_items) as bar:
        bar.update(sum(s["items"] for s in summaries))
        if jobs <= 1 or len(pending) <= 1:
            _init_worker(preparer, str(work), worker_process=False)
            for s in pending:
                summaries.append(_process_shard(s))
                bar.update(summaries[-1]["items"])
        else:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
            held = hasattr(signal, "pthread_sigmask")
            if held:  # workers start with SIGINT held, then ignore it; here it is delivered after the start
                old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                pool = ctx.Pool(min(jobs, len(pending)), initializer=_init_worker, initargs=(preparer, str(work)))
            finally:
                if held:
                    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            try:
                for summary in pool.imap_unordered(_process_shard, pending):
                    summaries.append(summary)
                    bar.update(summary["items"])
                pool.close()
            except BaseException:  # Ctrl-C or an error: stop the workers (nothing they leave is published)
                pool.terminate()
                raise
            finally:
                pool.join()
    summaries.sort(key=lambda s: s["shard"])
    return summaries, resumed_shards


@dataclass
class MergedCounts:
    """Step 3's sums over the discovery and every shard."""

    counts: Counter                         # outcome reason -> utterances ("kept" and every skip reason)
    notes: Counter
    splits: Dict[str, List[float]]          # split -> [utterances, seconds]
    examples: Dict[str, List[Any]]          # skip reason -> at most MAX_EXAMPLES examples


def _merge_counts(discovery: Dict[str, Any], summaries: List[Dict[str, Any]]) -> MergedCounts:
    counts: Counter = Counter(discovery["skips"])
    notes: Counter = Counter()
    split_stats: Dict[str, List[float]] = defaultdict(lambda: [0, 0.0])
    examples: Dict[str, List[Any]] = defaultdict(list)
    for reason, ex in discovery["examples"].items():
        examples[reason].extend(ex)
    for s in summaries:
        counts.update(s["counts"])
        notes.update(s["notes"])
        for split, (n, sec) in s["splits"].items():
            split_stats[split][0] += n
            split_stats[split][1] += sec
        for reason, ex in s["examples"].items():
            room = MAX_EXAMPLES - len(examples[reason])
            examples[reason].extend(ex[:max(0, room)])
    return MergedCounts(counts, notes, split_stats, examples)


def _write_manifests(out_dir: Path, work: Path, shards: int, splits: List[str],
                     old_manifests: Dict[str, str]) -> Dict[str, str]:
    """``OUT/<split>.jsonl``: the shard outputs concatenated in shard order; a manifest an earlier run with other
    options wrote for a split this run does not have is removed. Returns ``{split: file name}``."""
    manifests = {}
    for split in splits:
        name = f"{split}.jsonl"
        with publish(out_dir / name) as dst:
            for s in range(shards):
                part = work / f"shard-{s:04d}.{split}.jsonl"
                if part.exists():
                    with open(part, "rb") as src:
                        shutil.copyfileobj(src, dst)
        manifests[split] = name
    for split, name in old_manifests.items():
        if split not in manifests and (out_dir / name).is_file():
            os.remove(out_dir / name)  # a manifest of an earlier run with other options must not linger
    return manifests


def _build_report(preparer: Preparer, out_dir: Path, fingerprint: str, discovery: Dict[str, Any],
                  merged: MergedCounts, manifests: Dict[str, str], jobs: int, shards: int,
                  resumed_discovery: bool, resumed_shards: int, elapsed: float) -> Dict[str, Any]:
    counts = merged.counts
    files = {c: int(discovery["files"].get(c, 0)) for c in FILE_CATEGORIES}
    files["total"] = sum(files.values())
    skipped_counts = {r: int(counts.get(r, 0)) for r in SKIP_REASONS}
    unknown = set(counts) - set(SKIP_REASONS) - {"kept"}
    if unknown:
        raise RuntimeError(f"internal: unknown outcome reasons {sorted(unknown)}")
    return {
        "corpus": preparer.corpus,
        "root": str(preparer.root),
        "out_dir": str(out_dir.resolve()),
        "options": _options_dict(preparer.options),
        "state": preparer.state,
        "fingerprint": fingerprint,
        "files_on_disk": files,
        "utterances": {
            "found": int(counts.get("kept", 0)) + sum(skipped_counts.values()),
            "kept": int(counts.get("kept", 0)),
            "skipped": skipped_counts,
        },
        "splits": {k: {"utterances": int(v[0]), "hours": round(v[1] / 3600.0, 4), "seconds": round(v[1], 2)}
                   for k, v in sorted(merged.splits.items())},
        "manifests": manifests,
        "notes": dict(sorted(merged.notes.items())),
        "examples": dict(merged.examples),
        "jobs": jobs,
        "shards": shards,
        "resumed": {"discovery": resumed_discovery, "shards_done_before": resumed_shards} if (resumed_discovery or resumed_shards) else False,
        "elapsed_s": round(elapsed, 3),
        "files_per_second": round(files["total"] / elapsed, 1) if elapsed > 0 else None,
    }


def _log_summary(report: Dict[str, Any]) -> None:
    u = report["utterances"]
    skipped = ", ".join(f"{k} {v}" for k, v in u["skipped"].items() if v) or "none"
    splits = ", ".join(f"{k} {v['utterances']} ({v['hours']} h)" for k, v in report["splits"].items())
    log.info("%s: %d utterances found, %d kept [%s]; skipped: %s", report["corpus"], u["found"], u["kept"], splits, skipped)
