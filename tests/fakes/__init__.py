"""In-process fakes of the platforms the bot talks to (loopback HTTP servers on port 0)."""
