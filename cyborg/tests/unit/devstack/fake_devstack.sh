#!/bin/bash
# A minimal fake DevStack for devstack/plugin.sh: the functions the plugin
# calls, each appending one line to $FAKE_DEVSTACK_CALLS (the function's
# name and arguments, tab separated) instead of touching the machine.
# iniset also writes the ini file (with Python's configparser), so that the
# commands the plugin runs (cyborg-dbsync) read a real cyborg.conf. The
# test sets the globals DevStack would (DEST, STACK_USER, ...) and
# FAKE_PYTHON, the interpreter with cyborg installed.

function _record {
    local IFS=$'\t'
    printf '%s\n' "$*" >> "$FAKE_DEVSTACK_CALLS"
}

function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ",$ENABLED_SERVICES," == *",$service,"* ]]; then
            return 0
        fi
    done
    return 1
}

function enable_service {
    local service
    for service in "$@"; do
        ENABLED_SERVICES+=",$service"
    done
    _record enable_service "$@"
}

function echo_summary { _record echo_summary "$@"; }
function setup_develop { _record setup_develop "$@"; }
function pip_install { _record pip_install "$@"; }
function iniset {
    _record iniset "$@"
    "$FAKE_PYTHON" - "$@" <<'PYTHON'
import configparser
import sys

path, section, key, value = sys.argv[1:5]
parser = configparser.RawConfigParser(strict=False)
parser.optionxform = str
parser.read(path)
if section != 'DEFAULT' and not parser.has_section(section):
    parser.add_section(section)
parser.set(section, key, value)
with open(path, 'w') as ini:
    parser.write(ini)
PYTHON
}
function configure_keystone_authtoken_middleware {
    _record configure_keystone_authtoken_middleware "$@"
}
function write_uwsgi_config { _record write_uwsgi_config "$@"; }
function remove_uwsgi_config { _record remove_uwsgi_config "$@"; }
function create_service_user { _record create_service_user "$@"; }
function get_or_create_service { _record get_or_create_service "$@"; }
function get_or_create_endpoint { _record get_or_create_endpoint "$@"; }
function recreate_database { _record recreate_database "$@"; }
function run_process { _record run_process "$@"; }
function stop_process { _record stop_process "$@"; }

function get_transport_url { echo "$FAKE_TRANSPORT_URL"; }
function database_connection_url { echo "$FAKE_DATABASE_URL_PREFIX$1"; }
function get_python_exec_prefix { echo "$FAKE_PYTHON_EXEC_PREFIX"; }
function which { echo "/usr/local/bin/$1"; }

# Runs the command itself (as the user running the test), and records it.
function sudo {
    _record sudo "$@"
    "$@"
}
