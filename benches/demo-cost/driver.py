"""The demo's route mix (benches/demo-cost/mix), sent sequentially on one keep-alive
connection; used by scripts/bench-parts/demo-cost.

    driver.py setup PORT             registers and signs in a user, creates a workflow;
                                     prints TOKEN USER_ID WORKFLOW_ID
    driver.py mix PORT MIX TOKEN UID WID WARMUP COUNT PID
                                     sends WARMUP requests of the mix, dumps the counts of
                                     callgrind process PID (which zeroes them), sends COUNT
                                     more and dumps again
"""
import http.client
import json
import subprocess
import sys


def call(connection, method, path, body=None, token=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        sys.exit(f"driver.py: {method} {path} answered {response.status}: {data[:200]!r}")
    return data


def setup(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    user = {"email": "bench@example.com", "name": "Bench", "password": "bench password 1"}
    call(connection, "POST", "/api/v1/auth/register", json.dumps(user))
    login = {"email": user["email"], "password": user["password"]}
    session = json.loads(call(connection, "POST", "/api/v1/auth/login", json.dumps(login)))
    token, uid = session["token"], session["user_id"]
    flow = {"name": "bench flow", "actions": ["send_message", "tag_contact", "ai_reply"]}
    workflow = json.loads(call(connection, "POST", "/api/v1/workflows", json.dumps(flow), token))
    print(token, uid, workflow["id"])


def mix(port, path, token, uid, wid, warmup, count, pid):
    requests = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            method, target, body = line.rstrip("\n").split(" ", 2)
            target = target.replace("{uid}", uid).replace("{wid}", wid)
            requests.append((method, target, None if body == "-" else body))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for i in range(warmup):
        call(connection, *requests[i % len(requests)], token)
    subprocess.run(["callgrind_control", "-d", pid], check=True, stdout=subprocess.DEVNULL)
    for i in range(count):
        call(connection, *requests[i % len(requests)], token)
    subprocess.run(["callgrind_control", "-d", pid], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(int(sys.argv[2]))
    else:
        port, path, token, uid, wid, warmup, count, pid = sys.argv[2:10]
        mix(int(port), path, token, uid, wid, int(warmup), int(count), pid)
