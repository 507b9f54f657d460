"""Reading and writing network weights: the released STARK ``.pth.tar`` files and this project's own.

Released files are pickles holding, beside ``net`` (the state_dict), objects of classes from the
official code base (settings, meters) that cannot be imported here. They are read with a restricted
unpickler: tensors, storages and plain containers are rebuilt, every other class becomes an inert
placeholder, and no other global is ever looked up or called. Only the state_dict is used.

Files written by :func:`save_official_checkpoint` use the official layout (``net`` + ``net_type``),
so code that expects the released files reads them too.
"""

from __future__ import annotations

import collections
import logging
import pickle
import types
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from lib.models.errors import CheckpointError
from lib.utils.io import atomic_torch_save

LOGGER = logging.getLogger(__name__)

# globals a state_dict pickle legitimately needs; everything else becomes a placeholder
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
}
_STATE_KEYS = ("net", "state_dict", "model")


class Placeholder:
    """Inert stand-in for an object whose class is not allowed (or not importable) at load time."""

    _qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pickled_args = (args, kwargs)

    def __setstate__(self, state: Any) -> None:
        self.pickled_state = state

    # pickle builds instances with __new__ (no __init__); dict / list subclasses then get their
    # contents through SETITEMS / APPENDS, kept here as plain data
    def _contents(self) -> list[Any]:
        return self.__dict__.setdefault("pickled_contents", [])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._contents().append((key, value))

    def append(self, value: Any) -> None:
        self._contents().append(value)

    def extend(self, values: Any) -> None:
        self._contents().extend(values)

    def __repr__(self) -> str:
        return f"<placeholder for {self._qualname}>"


def _placeholder_class(module: str, name: str) -> type:
    return type(f"Placeholder_{name}", (Placeholder,), {"_qualname": f"{module}.{name}"})


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor(cls, object, None): only ever build placeholders through it
    return cls() if isinstance(cls, type) and issubclass(cls, Placeholder) else Placeholder(cls, base, state)


_TORCH_DTYPES = {name: value for name, value in vars(torch).items() if isinstance(value, torch.dtype)}


class _RestrictedUnpickler(pickle.Unpickler):
    """An allow-list unpickler: no global outside ``_ALLOWED_GLOBALS`` (and torch dtypes) is ever looked up."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        return _placeholder_class(module, name)


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# torch.load takes a module-like object: it subclasses ``Unpickler`` for the main pickle (storage
# look-ups stay torch's) and calls ``load`` for the legacy format's other pickles (magic number,
# protocol, sys info, storage keys), so both must be the restricted unpickler
_RESTRICTED_PICKLE = types.SimpleNamespace(
    Unpickler=_RestrictedUnpickler, load=_restricted_load, __name__="restricted_pickle"
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def read_checkpoint(path: str | Path) -> Any:
    """The object stored in the checkpoint ``path``, CPU tensors; the one reader of every ``.pth`` file.

    Every pickle of the file (zip format, or the legacy format whose header is itself pickled) goes
    through an allow-list unpickler: torch's ``weights_only`` one first, then, for the released files
    that hold objects of the official code, :class:`_RestrictedUnpickler`, which turns every class
    outside its list into an inert :class:`Placeholder`. Nothing named in the file is imported or run.

    Raises:
        CheckpointError: one line naming the file (missing, empty, truncated, not a checkpoint).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: cannot read checkpoint (empty file)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    # an untrusted file can fail in any way (EOFError, KeyError, RuntimeError, ...): all mean "unreadable"
    except Exception as exc:  # noqa: BLE001
        first_error = exc
    if not isinstance(first_error, pickle.UnpicklingError):
        raise CheckpointError(
            f"{path}: cannot read checkpoint, truncated or not a PyTorch file ({_first_line(first_error)})"
        ) from None
    LOGGER.debug("%s holds non-tensor objects; reading it with the restricted unpickler", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE)
    except Exception as exc:  # noqa: BLE001 -- as above
        raise CheckpointError(f"{path}: cannot read checkpoint ({_first_line(exc)})") from None


def read_network_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The network state_dict stored in ``path`` (CPU tensors, ``module.`` prefixes stripped).

    Accepts the released files (dict with ``net``), this project's checkpoints (``net``) and bare
    state_dicts. Never imports or calls classes named in the file.
    """
    obj = read_checkpoint(path)
    state = None
    if isinstance(obj, dict):
        for key in _STATE_KEYS:
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
        if state is None and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            state = obj
    if state is None:
        keys = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: no network state_dict found (expected a 'net' entry; top level: {keys})")
    cleaned = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: state_dict entry {key!r} is a {type(value).__name__}, not a tensor")
        cleaned[key[len("module.") :] if key.startswith("module.") else key] = value
    return cleaned


def _summary(kind: str, names: list[str]) -> str:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} {kind} ({shown})"


def check_state_matches(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise a one-line CheckpointError if ``state`` does not fit ``model`` exactly."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshaped = sorted(
        f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if state[k].shape != own[k].shape
    )
    problems = [
        _summary(kind, names)
        for kind, names in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
        if names
    ]
    if problems:
        raise CheckpointError(f"{source}: checkpoint does not match the network: " + "; ".join(problems))


def load_network_weights(model: nn.Module, path: str | Path) -> None:
    """Strictly load the weights in ``path`` into ``model`` (raises CheckpointError on any mismatch)."""
    state = read_network_state(path)
    check_state_matches(model, state, str(path))
    model.load_state_dict(state, strict=True)
    LOGGER.info("loaded network weights from %s (%d tensors)", path, len(state))


def load_checkpoint(path: str | Path, model: Optional[nn.Module] = None) -> dict[str, torch.Tensor]:
    """Read the network state of ``path``; with ``model``, also load it strictly. Returns the state."""
    state = read_network_state(path)
    if model is not None:
        check_state_matches(model, state, str(path))
        model.load_state_dict(state, strict=True)
    return state


def net_type_of(model: nn.Module) -> str:
    """``STARKST`` when the model has a score head, else ``STARKS`` (the official ``net_type`` names)."""
    return "STARKST" if getattr(model, "cls_head", None) is not None else "STARKS"


def save_official_checkpoint(model: nn.Module, path: str | Path, **extra: Any) -> None:
    """Write ``{'net': state_dict, 'net_type': 'STARKS' | 'STARKST', **extra}`` atomically.

    ``extra`` values should be plain data (numbers, strings, dicts) so the file stays loadable with
    ``torch.load(weights_only=True)``.
    """
    module = model.module if hasattr(model, "module") else model
    net_type = net_type_of(module)
    state = collections.OrderedDict((k, v.detach().cpu().clone()) for k, v in module.state_dict().items())
    atomic_torch_save({"net": state, "net_type": net_type, **extra}, Path(path))
