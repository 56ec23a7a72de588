"""End-to-end tests with real parts only: a real registry, real clients, regnotify as a process."""
