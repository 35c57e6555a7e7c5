"""`t2a-edge data build`: fetch packages, extract and clean their sounds, write FLAC clips and the manifest."""

from __future__ import annotations

import concurrent.futures as cf
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from t2a_edge.core.audio import SAMPLE_RATE, atomic_write_bytes, write_sound_file
from t2a_edge.core.errors import T2AError
from t2a_edge.train.corpus import apt, captions, clean, copyright as dep5
from t2a_edge.train.corpus.extract import Found, walk
from t2a_edge.train.corpus.sources import DEFAULT_SOURCES, Source, source_or_error
from t2a_edge.train.corpus.split import assign_splits, check_no_leak
from t2a_edge.train.manifest import MANIFEST_NAME, Clip, write_manifest

RECORD_FORMAT = 1
AUDIO_DIR = "audio"
RECORDS_DIR = "sources"
LICENSES_DIR = "copyright"


@dataclass
class BuildReport:
    """What a build did, for the summary and for tests."""

    clips: list[Clip]
    manifest_sha256: str
    built: list[str] = field(default_factory=list)  # sources processed in this run
    reused: list[str] = field(default_factory=list)  # sources whose earlier result was still valid
    seconds: float = 0.0
    peak_temp_bytes: int = 0
    dropped_duplicates: int = 0


# --- worker: one audio file -> cleaned FLAC clips -----------------------------------------

def _slug(path: str) -> str:
    name = path.split("!")[-1].rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:40] or "clip"


def process_file(data: bytes, out_dir: str, prefix: str) -> list[dict]:
    """Decode, clean and write one file's clips as FLAC (skipping ones already on disk); return their facts."""
    try:
        samples, rate = clean.decode(data)
    except Exception as exc:  # a file soundfile cannot read is skipped, not fatal
        return [{"error": f"undecodable ({type(exc).__name__})"}]
    if len(samples) == 0:
        return []
    parts = clean.clean(samples, rate)
    results = []
    for index, pcm in enumerate(parts):
        digest = clean.pcm_hash(pcm)
        clip_id = f"{prefix}-{digest[:10]}"
        path = Path(out_dir) / f"{clip_id}.flac"
        if not path.exists():
            write_sound_file(path, pcm, SAMPLE_RATE, "FLAC", "PCM_16")
        stats = clean.describe(pcm.astype("float32") / 32767.0)
        results.append({"id": clip_id, "file": path.name, "duration": round(len(pcm) / SAMPLE_RATE, 3),
                        "pcm_sha256": digest, "window": index if len(parts) > 1 else None,
                        "windows": len(parts), "orig_rate": rate, **stats})
    return results


# --- one source ---------------------------------------------------------------------------

def _record_path(dest: Path, package: str) -> Path:
    return dest / RECORDS_DIR / f"{package}.json"


def load_record(dest: Path, package: str) -> dict | None:
    """The stored result of an earlier build of `package`, or None."""
    path = _record_path(dest, package)
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if record.get("format") == RECORD_FORMAT else None


def fingerprint(source: Source) -> str:
    """A hash of everything that shapes a source's clips besides the package: its rules and the cleaning."""
    # Category templates matter only to rules without captions of their own (tuxpaint stamps).
    templates = sorted({(r.category, captions.CATEGORY_TEMPLATES.get(r.category, captions.GENERIC_TEMPLATE))
                        for r in source.rules if r.captions is None})
    parts = [repr(source), repr(templates), repr([(k, v) for k, v in sorted(vars(clean).items()) if k.isupper()])]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def record_is_current(dest: Path, record: dict | None, version: str, rules: str) -> bool:
    """True when the record matches the package version and rules and all its audio files exist."""
    if not record or record.get("version") != version or record.get("rules") != rules:
        return False
    return all((dest / row["audio"]).is_file() for row in record["clips"])


def _fields(found: Found) -> dict[str, str]:
    fields = dict(found.fields)
    if "surf" in fields:
        fields["surf"] = captions.surface(fields["surf"])
    if "inst" in fields:
        inst = {"flute_traversiere": "flute", "drum_kit": "drum kit"}.get(fields["inst"], fields["inst"])
        fields["inst"] = captions.noun_phrase(inst)
    return fields


def build_source(source: Source, version: str, deb: Path, dest: Path, jobs: int, progress: bool) -> dict:
    """Process one package into FLAC clips under dest/audio/<short>/ and return its record."""
    from tqdm import tqdm

    out_dir = dest / AUDIO_DIR / source.short
    out_dir.mkdir(parents=True, exist_ok=True)
    copyright_holder: dict = {}
    pending: list[tuple[Found, cf.Future | list]] = []
    executor = cf.ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    bar = tqdm(desc=f"{source.package:<26}", unit=" files", disable=not progress, leave=True)
    try:
        for found in walk(source, deb, copyright_holder):
            prefix = f"{source.short}-{_slug(found.source_path)}"
            if executor:
                future = executor.submit(process_file, found.data, str(out_dir), prefix)
                future.add_done_callback(lambda _f: bar.update(1))
                pending.append((found, future))
                # Bound the bytes held in flight: wait when too many files are queued.
                while sum(1 for _, f in pending if not f.done()) > 4 * jobs:
                    cf.wait([f for _, f in pending if not f.done()], return_when=cf.FIRST_COMPLETED)
            else:
                pending.append((found, process_file(found.data, str(out_dir), prefix)))
                bar.update(1)
            found.data = b""  # the worker has its copy; free ours
        results = [(found, r.result() if isinstance(r, cf.Future) else r) for found, r in pending]
    finally:
        if executor:
            executor.shutdown(cancel_futures=True)
        bar.close()

    copyright_text = copyright_holder.get("text", "")
    stanzas = dep5.parse(copyright_text)
    if copyright_text:
        license_dir = dest / LICENSES_DIR
        license_dir.mkdir(exist_ok=True)
        atomic_write_bytes(license_dir / f"{source.package}.txt",
                           lambda tmp: Path(tmp).write_text(copyright_text, encoding="utf-8"))
    rows, errors = [], 0
    for found, clips in results:
        inner = found.source_path.split("!")[-1]
        license_name, holder = (found.license, "") if found.license else dep5.license_of(
            stanzas, inner, source.license)
        caps = captions.expand(found.rule.captions, found.rule.category, _fields(found))
        for facts in clips:
            if "error" in facts:
                errors += 1
                continue
            extra = {k: facts[k] for k in ("pcm_sha256", "rms_db", "centroid_hz", "active", "orig_rate")}
            if facts["window"] is not None:
                extra["window"] = facts["window"]
                extra["windows"] = facts["windows"]
            if found.credit:
                extra["credit"] = found.credit
            elif holder:
                extra["copyright"] = " ".join(holder.split())
            clip = Clip(id=facts["id"], audio=f"{AUDIO_DIR}/{source.short}/{facts['file']}", captions=caps,
                        category=found.rule.category, split="", duration=facts["duration"],
                        source=source.package, source_version=version, source_path=found.source_path,
                        license=license_name, extra=extra)
            rows.append(asdict(clip))
    # Same content within one package (megaglest repeats files across tilesets): keep one.
    unique = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        unique.setdefault(row["id"], row)
    rows = list(unique.values())
    keep = {Path(r["audio"]).name for r in rows}
    for stale in out_dir.glob("*.flac"):  # files of an older package version
        if stale.name not in keep:
            stale.unlink()
    record = {"format": RECORD_FORMAT, "package": source.package, "version": version,
              "rules": fingerprint(source), "undecodable": errors, "clips": rows}
    (dest / RECORDS_DIR).mkdir(exist_ok=True)
    data = json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False).encode()
    atomic_write_bytes(_record_path(dest, source.package), lambda tmp: Path(tmp).write_bytes(data))
    return record


# --- the whole build ----------------------------------------------------------------------

def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def assemble(dest: Path, packages: list[str]) -> tuple[list[Clip], int]:
    """Clips of the given packages' records, deduplicated across packages (first package wins), split."""
    clips, seen, dropped = [], set(), 0
    for package in packages:
        record = load_record(dest, package)
        if record is None:
            continue
        for row in sorted(record["clips"], key=lambda r: r["id"]):
            digest = row["extra"].get("pcm_sha256", row["id"])
            if digest in seen:
                dropped += 1
                continue
            seen.add(digest)
            clips.append(Clip(**row))
    assign_splits(clips)
    leaks = check_no_leak(clips)
    if leaks:  # cannot happen by construction; refuse to write a leaking split
        raise RuntimeError(f"split leaks groups across train and test: {leaks[:3]}")
    return clips, dropped


def build(dest: str | os.PathLike, sources: list[str] | None = None, jobs: int = 2,
          debs: str | os.PathLike | None = None, progress: bool = True, echo=print) -> BuildReport:
    """Build (or bring up to date) the corpus in `dest` from the named Debian packages."""
    started = time.monotonic()
    packages = [source_or_error(s).package for s in (sources or DEFAULT_SOURCES)]
    packages = list(dict.fromkeys(packages))
    if jobs < 1:
        raise T2AError("--jobs must be at least 1")
    dest = Path(dest).expanduser()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise T2AError(f"cannot create {dest}: {exc.strerror}") from None
    if not os.access(dest, os.W_OK):
        raise T2AError(f"cannot write to {dest}: choose another --dest")
    if debs is not None and not Path(debs).is_dir():
        raise T2AError(f"--debs folder {debs} does not exist")

    lock = open(dest / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise T2AError(f"another build is running in {dest}") from None
    try:
        for stale in dest.glob(".build-*"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
        apt.require_tools()
        versions = {p: apt.candidate_version(p) for p in packages}
        report = BuildReport(clips=[], manifest_sha256="")
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=dest))
        try:
            for package in packages:
                source = source_or_error(package)
                if record_is_current(dest, load_record(dest, package), versions[package], fingerprint(source)):
                    report.reused.append(package)
                    continue
                deb = apt.find_deb(package, versions[package], debs) if debs else None
                if deb is None:
                    if progress:
                        echo(f"downloading {package} {versions[package]}")
                    deb = apt.download(package, versions[package], tmp)
                report.peak_temp_bytes = max(report.peak_temp_bytes, _dir_size(tmp))
                build_source(source, versions[package], deb, dest, jobs, progress)
                if deb.parent == tmp:
                    deb.unlink()
                report.built.append(package)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        clips, report.dropped_duplicates = assemble(dest, packages)
        if not clips:
            raise T2AError("the build produced no clips")
        report.clips = clips
        report.manifest_sha256 = write_manifest(dest / MANIFEST_NAME, clips)
        atomic_write_bytes(dest / "manifest.sha256",
                           lambda t: Path(t).write_text(f"{report.manifest_sha256}  {MANIFEST_NAME}\n"))
        report.seconds = time.monotonic() - started
        info = {"manifest_sha256": report.manifest_sha256, "packages": versions, "built": report.built,
                "reused": report.reused, "seconds": round(report.seconds, 1),
                "peak_temp_bytes": report.peak_temp_bytes, "dropped_duplicates": report.dropped_duplicates}
        atomic_write_bytes(dest / "build.json", lambda t: Path(t).write_text(json.dumps(info, indent=1) + "\n"))
        return report
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
