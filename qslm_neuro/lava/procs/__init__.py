"""Our own Lava processes (kept in their own folder: Lava's compiler executes every module next
to a process's module when it looks for process models)."""
