#!/usr/bin/python3
"""Demo servers: HTTP GET and UDP echo; log each peer's address:port.

Usage: demo_server.py ADDR HTTP_PORT UDP_PORT   (runs until SIGTERM)
"""
import http.server
import signal
import socketserver
import socket
import sys
import threading


def main():
    addr, http_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            peer = "%s:%d" % self.client_address
            print(f"tcp  {peer}  GET {self.path}", flush=True)
            body = f"hello {peer}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.HTTPServer):
        def server_bind(self):
            # HTTPServer.server_bind() resolves its own name (getfqdn), which
            # would send a DNS query to the host's resolver: not here.
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = self.server_address[:2]

    httpd = Server((addr, http_port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, udp_port))

    def serve_udp():
        while True:
            data, peer = udp.recvfrom(2048)
            print(f"udp  {peer[0]}:{peer[1]}  {data.strip().decode(errors='replace')}",
                  flush=True)
            udp.sendto(b"echo " + data, peer)

    threading.Thread(target=serve_udp, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
