"""I/O behind one async interface (:class:`cachetui.store.base.Store`)."""
