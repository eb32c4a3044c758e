"""C modules: the runtime their kernel calls land on, the bridge from C memory
to the simulated kernel's objects, and the loader of ``.ko`` files."""
