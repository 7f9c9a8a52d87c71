#!/bin/bash
# DevStack plugin entry point for cyborg: DevStack sources it once per
# phase, with the phase as arguments ("stack install", "unstack", ...).

# shellcheck source=devstack/lib/cyborg
source "$CYBORG_DIR/devstack/lib/cyborg"

if is_service_enabled cyborg; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing cyborg"
        install_cyborg
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring cyborg"
        configure_cyborg
        create_cyborg_accounts
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initialising and starting cyborg"
        if is_service_enabled cyborg-api cyborg-cond; then
            init_cyborg
        fi
        start_cyborg
    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        if is_service_enabled tempest; then
            configure_cyborg_tempest
        fi
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_cyborg
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_cyborg
    fi
fi
