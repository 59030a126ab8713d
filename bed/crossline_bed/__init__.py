"""The local bed: real services on loopback that tests and the embedded main job share."""
