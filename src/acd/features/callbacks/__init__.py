"""Callbacks that keep the caller's place (:mod:`acd.features.callbacks.service`)."""

from acd.features.callbacks.service import (
    OPEN_STATES,
    OUTCOMES,
    Callback,
    CallbackPolicy,
    CallbackQueue,
    CallbackService,
    CallbackStore,
    next_open,
)

__all__ = ["OPEN_STATES", "OUTCOMES", "Callback", "CallbackPolicy", "CallbackQueue", "CallbackService", "CallbackStore", "next_open"]
