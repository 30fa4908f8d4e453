"""A hostile client of the Open Inference Protocol endpoints, run by InferenceProtocolAttackTest in its own process.

Usage: oip-attacker.py PORT SHM_DIR PREFIX ROUNDS

Each round sends garbage, truncated and stalled bodies, lying lengths, deep nesting, huge shape claims, duplicates and
region register/unregister storms over raw sockets. Every answer the server gives must be an HTTP response; every
answer of a /v2 route a 4xx with a JSON {"error": ...} body. Prints "VIOLATION <what>" for any other answer,
"ROUND <n>" after each round, then "STALLED" once it holds a request half-sent, and waits to be killed.
"""
import json
import os
import socket
import sys
import threading

PORT = int(sys.argv[1])
SHM = sys.argv[2]
PREFIX = sys.argv[3]
ROUNDS = int(sys.argv[4])
INFER = "/v2/models/arith/infer"
lock = threading.Lock()


def say(line):
    with lock:
        print(line, flush=True)


def connect():
    s = socket.create_connection(("localhost", PORT), timeout=60)
    return s


def read_response(s):
    """The status, headers and body of one response, or None if the server closed without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def request(method, path, body=b"", headers=None, content_length=None):
    s = connect()
    try:
        h = {"Host": "localhost", "Content-Type": "application/json", "Connection": "close"}
        h.update(headers or {})
        h["Content-Length"] = str(len(body) if content_length is None else content_length)
        head = "%s %s HTTP/1.1\r\n%s\r\n\r\n" % (method, path, "\r\n".join("%s: %s" % kv for kv in h.items()))
        s.sendall(head.encode("latin-1") + body)
        return read_response(s)
    except socket.timeout:
        return None
    finally:
        s.close()


def refused(what, answer, statuses=(400,)):
    """The answer must be one of the statuses with a JSON error body."""
    if answer is None:
        say("VIOLATION %s: no answer" % what)
        return
    status, headers, body = answer
    if status not in statuses:
        say("VIOLATION %s: status %d %r" % (what, status, body[:200]))
        return
    try:
        error = json.loads(body)["error"]
        if not isinstance(error, str):
            raise ValueError
    except Exception:
        say("VIOLATION %s: body %r is not {\"error\": ...}" % (what, body[:200]))


def accepted(what, answer):
    if answer is None or answer[0] != 200:
        say("VIOLATION %s: %r" % (what, answer if answer is None else (answer[0], answer[2][:200])))


def infer_json(inputs, extra=""):
    return ('{"inputs": [%s]%s}' % (",".join(inputs), extra)).encode()


def raw(data, half_close=True):
    """Sends bytes that are no request at all; the server must answer (400) or close, and stay up."""
    s = connect()
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    finally:
        s.close()


def truncated(body, sent):
    s = connect()
    head = ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (INFER, len(body))).encode()
    s.sendall(head + body[:sent])
    s.close()


def stalled(body, sent):
    """A request half-sent and held open: the caller closes the socket later."""
    s = connect()
    head = ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (INFER, len(body))).encode()
    s.sendall(head + body[:sent])
    return s


def region_file(name, size):
    path = os.path.join(SHM, PREFIX + name)
    with open(path, "wb") as f:
        f.write(bytes(size))
    return path


def register(region, key, offset, size):
    return request("POST", "/v2/systemsharedmemory/region/%s/register" % region,
                   json.dumps({"key": key, "offset": offset, "byte_size": size}).encode())


def unregister(region):
    return request("POST", "/v2/systemsharedmemory/region/%s/unregister" % region)


GOOD_A = '{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}'
GOOD_B = '{"name": "b", "shape": [2, 2], "datatype": "FP32", "data": [5, 6, 7, 8]}'


def one_round(n):
    holding = [stalled(infer_json([GOOD_A, GOOD_B]), 20) for _ in range(4)]
    raw(os.urandom(4096))
    raw(b"POST /v2/models/arith/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}")
    raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))
    truncated(infer_json([GOOD_A, GOOD_B]), 30)
    body = infer_json([GOOD_A, GOOD_B])
    answer = request("POST", INFER, body, content_length=len(body) + 10**9)
    if answer is not None and answer[0] != 413:
        say("VIOLATION a Content-Length past the limit: status %d" % answer[0])

    # lying Inference-Header-Content-Length
    for value in ["99999999999999999999", "-1", "0", "abc", str(len(body) + 1), " 5"]:
        refused("header length " + value, request("POST", INFER, body, {"Inference-Header-Content-Length": value}))
    # not JSON, not an object, deep nesting
    refused("garbage body", request("POST", INFER, os.urandom(512)))
    refused("an array body", request("POST", INFER, b"[1, 2, 3]"))
    refused("deep nesting", request("POST", INFER, b'{"inputs": [{"name": "a", "data": ' + b"[" * 200000))
    refused("deep nesting of an unknown field", request("POST", INFER, b'{"x": ' + b'{"y": ' * 100000))
    refused("deep data", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [1], "datatype": "FP32", "data": ' + "[" * 5000 + "1" + "]" * 5000 + "}", GOOD_B])))
    # huge shape claims
    refused("a shape of 1e12 in JSON", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [1000000000000], "datatype": "FP32", "data": [1]}', GOOD_B])))
    refused("a shape padded by an id", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [400000], "datatype": "FP64", "data": [1]}', GOOD_B],
        ', "id": "%s"' % ("x" * 900000))))
    refused("a shape that overflows", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [4611686018427387904, 8], "datatype": "FP32", "data": [1]}', GOOD_B])))
    refused("a negative dimension", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [-4], "datatype": "FP32", "data": [1, 2, 3, 4]}', GOOD_B])))
    header = infer_json(['{"name": "a", "shape": [1000000000], "datatype": "FP32", "parameters": '
                         '{"binary_data_size": 4000000000}}', GOOD_B])
    refused("binary_data_size larger than the body", request(
        "POST", INFER, header + bytes(16), {"Inference-Header-Content-Length": str(len(header))}))
    header = infer_json(['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": '
                         '{"binary_data_size": 18446744073709551615}}', GOOD_B])
    refused("binary_data_size past a long", request(
        "POST", INFER, header + bytes(16), {"Inference-Header-Content-Length": str(len(header))}))
    header = infer_json(['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}}',
                         GOOD_B])
    refused("binary data short", request("POST", INFER, header + bytes(7),
                                         {"Inference-Header-Content-Length": str(len(header))}))
    refused("binary data over", request("POST", INFER, header + bytes(40),
                                        {"Inference-Header-Content-Length": str(len(header))}))
    # duplicates and many inputs
    refused("a duplicate input", request("POST", INFER, infer_json([GOOD_A, GOOD_A, GOOD_B])))
    answer = request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [9, 9, 9, 9], "data": [1, 2, 3, 4]}', GOOD_B]))
    accepted("a duplicate data field", answer)
    refused("many inputs", request("POST", INFER, infer_json(['{"name": "i%d"}' % i for i in range(100000)])))
    refused("an out-of-range INT8", request("POST", "/v2/models/arith/infer", infer_json(
        ['{"name": "a", "shape": [1], "datatype": "INT8", "data": [300]}', GOOD_B])))
    refused("an unknown model", request("POST", "/v2/models/nobody/infer", body), (404,))
    refused("an unknown endpoint", request("DELETE", "/v2/models/arith"), (404, 405))

    # regions: links, other files, overflows, huge claims, storms, shrinking
    region_file("r%d" % n, 64)
    link = os.path.join(SHM, PREFIX + "link%d" % n)
    if not os.path.lexists(link):
        os.symlink(os.path.join(SHM, PREFIX + "r%d" % n), link)
    refused("a link", register("bad", "/" + PREFIX + "link%d" % n, 0, 16))
    refused("a path", register("bad", "/../etc/passwd", 0, 16))
    refused("a dot", register("bad", "/..", 0, 16))
    refused("offset and size past a long", register("bad", "/" + PREFIX + "r%d" % n, 9223372036854775807, 16))
    refused("byte_size past its file", register("bad", "/" + PREFIX + "r%d" % n, 0, 9223372036854775807))
    refused("offset past a long", register("bad", "/" + PREFIX + "r%d" % n, 2 ** 64, 16))
    mine = "atk%d" % n
    accepted("registering a region", register(mine, "/" + PREFIX + "r%d" % n, 0, 64))
    refused("registering it twice", register(mine, "/" + PREFIX + "r%d" % n, 0, 64))
    refused("a region input of 1e9 elements", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [1000000000], "datatype": "FP32", "parameters": {"shared_memory_region": "%s"}}'
         % mine, GOOD_B])))
    refused("a region input past its end", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"shared_memory_region": "%s",'
         ' "shared_memory_offset": 56}}' % mine, GOOD_B])))
    refused("a region output past its end", request("POST", INFER, infer_json([GOOD_A, GOOD_B],
        ', "outputs": [{"name": "sum", "parameters": {"shared_memory_region": "%s", "shared_memory_offset": '
        '9223372036854775800}}]' % mine)))
    refused("an unregistered region", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"shared_memory_region": "none"}}',
         GOOD_B])))

    # a storm: infers that read the region while others unregister and register it again
    def reader():
        for _ in range(10):
            answer = request("POST", INFER, infer_json(
                ['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"shared_memory_region": "%s"}}'
                 % mine, GOOD_B]))
            if answer is None or answer[0] not in (200, 400):
                say("VIOLATION a read during the storm: %r" % (answer if answer is None else answer[:1]))

    def churn():
        for _ in range(10):
            unregister(mine)
            register(mine, "/" + PREFIX + "r%d" % n, 0, 64)
    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=churn)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # shrunk under the registration
    os.truncate(os.path.join(SHM, PREFIX + "r%d" % n), 8)
    refused("a region whose file shrank", request("POST", INFER, infer_json(
        ['{"name": "a", "shape": [2, 2], "datatype": "FP32", "parameters": {"shared_memory_region": "%s"}}'
         % mine, GOOD_B])))
    unregister(mine)
    for s in holding:
        s.close()


for n in range(ROUNDS):
    one_round(n)
    say("ROUND %d" % n)
# registered and half-sent when the test kills this process
region_file("left", 64)
accepted("registering the region left behind", register("left", "/" + PREFIX + "left", 0, 64))
held = stalled(infer_json([GOOD_A, GOOD_B]) + bytes(4096), 40)
say("STALLED")
threading.Event().wait()
