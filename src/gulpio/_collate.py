"""Collation: combining samples into a batch (``gulpio.loader.default_collate``).

:func:`collate` takes the function that stacks a list of equally shaped
arrays, so that a loader worker can stack straight into a shared memory
segment (one copy fewer than stacking, then copying into shared memory).
"""
import numbers
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

StackFn = Callable[[List[np.ndarray]], Any]


def _is_torch_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def collate(batch: Sequence[Any], stack: StackFn = np.stack) -> Any:
    """:func:`default_collate` with ``stack`` doing the array stacking."""
    if len(batch) == 0:
        raise ValueError("default_collate got an empty batch")
    elem = batch[0]
    if isinstance(elem, np.ndarray):
        shapes = {np.shape(item) for item in batch}
        if len(shapes) != 1:
            raise ValueError(
                "default_collate: every array in a batch must have the same "
                f"shape, got {sorted(shapes)}")
        return stack(list(batch))
    if isinstance(elem, (str, bytes)):  # numpy.str_ too: texts stay a list
        return list(batch)
    if isinstance(elem, np.generic):
        return np.array(batch)
    if isinstance(elem, numbers.Number):
        return list(batch)
    if _is_torch_tensor(elem):
        return sys.modules["torch"].stack(list(batch))
    if isinstance(elem, Mapping):
        collated = [(key, collate([sample[key] for sample in batch], stack))
                    for key in elem]
        try:
            return type(elem)(collated)
        except TypeError:
            return dict(collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(collate(list(field), stack)
                            for field in zip(*batch)))
    if isinstance(elem, Sequence):
        lengths = {len(sample) for sample in batch}
        if len(lengths) != 1:
            raise ValueError(
                "default_collate: every sequence in a batch must have the "
                f"same length, got lengths {sorted(lengths)}")
        return [collate(list(field), stack) for field in zip(*batch)]
    raise TypeError(
        "default_collate: a batch must contain numpy arrays, numbers, "
        f"strings, mappings or sequences; found {type(elem).__name__}")


class HeapBatch:
    """Space for a stacked batch in ordinary memory (see :func:`batch_space`)."""

    def __init__(self, shape: Tuple[int, ...], dtype: Any) -> None:
        self.array: Optional[np.ndarray] = np.empty(shape, dtype)

    def result(self) -> Any:
        """The batch, once every sample is written into :attr:`array`."""
        array, self.array = self.array, None
        return array

    def discard(self) -> None:
        self.array = None


def batch_space(stack: StackFn, shape: Tuple[int, ...], dtype: Any) -> Any:
    """Space to write a batch's samples into, instead of stacking them.

    Its ``array`` has the stacked batch's shape; ``result()`` is then what
    ``stack`` would have returned, and ``discard()`` gives the space up.
    A loader worker's ``stack`` puts the space in shared memory.
    """
    space = getattr(stack, "batch_space", None)
    if space is not None:
        return space(shape, dtype)
    return HeapBatch(shape, dtype)


def fetch_batch(dataset: Any, indices: Sequence[Any],
                stack: StackFn = np.stack) -> Any:
    """``collate([dataset[i] for i in indices], stack)``.

    A dataset that can write its samples straight into the batch (a
    ``_collate_batch(indices, stack)`` method that does not return
    ``NotImplemented``) builds the same batch itself, saving the copy that
    stacking makes.
    """
    # Looked up on the class: a wrapper that forwards attributes to the
    # dataset it wraps must not hand over its indices.
    build = getattr(type(dataset), "_collate_batch", None)
    if build is not None:
        if not isinstance(indices, (Sequence, np.ndarray)):
            indices = list(indices)  # a batch sampler may yield iterators
        batch = build(dataset, indices, stack)
        if batch is not NotImplemented:
            return batch
    return collate([dataset[i] for i in indices], stack)


def fetch(dataset: Any, indices: Any, collate_fn: Callable[[Any], Any],
          auto_collation: bool, stack: StackFn = np.stack) -> Any:
    """One batch as a loader makes it: ``indices`` collated with
    ``collate_fn`` (``default_collate`` stacking with ``stack``), or with
    automatic batching off, ``collate_fn(dataset[indices])``."""
    if not auto_collation:
        return collate_fn(dataset[indices])
    if collate_fn is default_collate:
        return fetch_batch(dataset, indices, stack)
    return collate_fn([dataset[i] for i in indices])


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of samples into a batch.

    * numpy arrays are stacked along a new first axis (they must have one
      shape);
    * numpy scalars become one numpy array;
    * Python numbers and strings stay a list;
    * mappings are collated key by key, namedtuples field by field;
    * other sequences are collated element-wise into a list;
    * torch tensors (when torch is imported) are stacked with ``torch.stack``.

    Parameters
    ----------
    batch : sequence
        The samples, all of the same structure.

    Returns
    -------
    object
        The batch.

    Raises
    ------
    ValueError
        For arrays of different shapes or sequences of different lengths.
    TypeError
        For a sample type it does not know.
    """
    return collate(batch)
