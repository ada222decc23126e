"""The offline cloud: loopback stand-ins that speak the real wire formats, and in-process fakes."""
