#!/usr/bin/env python3
"""Serve the yardstick's hello-world WSGI app the way cyborg serves its API.

Same server (cyborg.wsgi_server: cheroot) and thread count, so the
``root`` phase against it gives the machine's floor for our figures:

    python3 bench/serve_hello.py --port 6667 \
        --app ../shared/bench/hello_wsgi.py
"""

import argparse
import runpy

from cyborg import wsgi_server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--app', required=True,
                        help='path of a file defining `application`')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6667)
    parser.add_argument('--threads', type=int, default=16)
    args = parser.parse_args()
    app = runpy.run_path(args.app)['application']
    server = wsgi_server.make_server(app, args.host, args.port, args.threads)
    try:
        wsgi_server.serve_forever(server)
    except KeyboardInterrupt:
        server.stop()


if __name__ == '__main__':
    main()
