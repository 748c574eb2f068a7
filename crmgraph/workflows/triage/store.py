"""The model file: a zip holding ``meta.json`` (format, library versions, label sets, how it was trained)
and ``model.skops`` (the fitted estimators, written with skops, whose loader rebuilds only known types:
opening a model file never runs code from it, unlike a pickle).

A file from another format or another minor version of scikit-learn is refused with a message that says
to train again: scikit-learn does not promise that a model fitted by one version predicts alike in another.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import skops.io

from crmgraph.workflows.triage.errors import TriageFileError
from crmgraph.workflows.triage.model import TriageModel

FORMAT = "crmgraph-triage/1"
META = "meta.json"
ESTIMATORS = "model.skops"
VOCABULARY = "vocabulary.json"


def _versions() -> dict[str, str]:
    return {name: version(name) for name in ("scikit-learn", "skops", "numpy", "scipy", "crmgraph")}


def _minor(text: str) -> tuple[str, ...]:
    return tuple(text.split(".")[:2])


def save_model(model: TriageModel, path: Path, trained: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` (replaced whole: a crash leaves the old file or the new, never half)."""
    meta = {"format": FORMAT, "versions": _versions(), "labels": model.labels, "trained": trained or {}}
    # The vocabulary goes beside the estimators as JSON: skops writes a large dict item by item, seconds and
    # megabytes for what JSON holds in a fraction of both.
    vectoriser = copy.copy(model.vectoriser)
    vectoriser.vocabulary_ = {}
    estimators = {
        "vectoriser": vectoriser,
        "severity": model.severity,
        "category": model.category,
        "tag_weights": model.tag_weights,
        "tag_bias": model.tag_bias,
        "tag_names": list(model.tag_names),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META, json.dumps(meta, indent=2, sort_keys=True))
        archive.writestr(ESTIMATORS, skops.io.dumps(estimators))
        archive.writestr(
            VOCABULARY,
            json.dumps({term: int(i) for term, i in model.vectoriser.vocabulary_.items()}, ensure_ascii=False),
        )
    partial.replace(path)


def read_meta(path: Path) -> dict[str, Any]:
    """The file's metadata, checked: what a model file is and whether this installation can load it."""
    archive = _open(path)
    with archive:
        return _checked_meta(path, archive)


def load_model(path: Path) -> TriageModel:
    archive = _open(path)
    with archive:
        meta = _checked_meta(path, archive)
        missing = [name for name in (ESTIMATORS, VOCABULARY) if name not in archive.namelist()]
        if missing:
            raise TriageFileError(path, f"not a triage model file: no {' or '.join(missing)} inside")
        try:
            data = archive.read(ESTIMATORS)
            vocabulary = json.loads(archive.read(VOCABULARY))
        except (ValueError, zipfile.BadZipFile) as exc:
            raise TriageFileError(path, f"the model file is damaged ({exc}): train again") from None
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
        if untrusted:
            raise TriageFileError(path, f"the model file holds types that are not loaded: {', '.join(untrusted)}")
        estimators = skops.io.loads(data)
        if not isinstance(vocabulary, dict) or not all(isinstance(i, int) for i in vocabulary.values()):
            raise TriageFileError(path, f"the model file is damaged ({VOCABULARY} is not a vocabulary): train again")
        estimators["vectoriser"].vocabulary_ = vocabulary
        model = TriageModel(
            estimators["vectoriser"],
            estimators["severity"],
            estimators["category"],
            estimators["tag_weights"],
            estimators["tag_bias"],
            tuple(estimators["tag_names"]),
        )
    except TriageFileError:
        raise
    except Exception as exc:  # skops raises whatever the damaged part provokes
        raise TriageFileError(path, f"the model file is damaged ({type(exc).__name__}: {exc}): train again") from exc
    if model.labels != meta["labels"] or model.tag_weights.shape != (len(model.tag_names), len(vocabulary)):
        raise TriageFileError(path, "the model file's estimators do not match its label sets: train again")
    return model


def _open(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise TriageFileError(path, "no such model file (train one with `crmgraph triage train`)")
    try:
        return zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    except zipfile.BadZipFile:
        raise TriageFileError(path, "not a triage model file (not a zip archive), or a damaged one") from None


def _checked_meta(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        meta = json.loads(archive.read(META))
    except (KeyError, ValueError, zipfile.BadZipFile):
        raise TriageFileError(path, f"not a triage model file: no readable {META} inside") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise TriageFileError(path, f"model file format {found!r}, this crmgraph reads {FORMAT!r}: train again")
    trained_with = meta.get("versions", {}).get("scikit-learn", "?")
    running = version("scikit-learn")
    if _minor(trained_with) != _minor(running):
        raise TriageFileError(
            path,
            f"trained with scikit-learn {trained_with}, this installation has {running}: train again "
            "(`crmgraph triage train`), a model is not portable across scikit-learn versions",
        )
    return meta
