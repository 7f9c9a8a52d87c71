"""cyborg-conductor: device data, Placement sync, ARQ binding, recovery."""
