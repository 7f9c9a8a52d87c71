"""cyborg-agent: discovery on one compute host, and programming its devices."""
