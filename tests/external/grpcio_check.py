"""Calls the gateway with the reference gRPC C-core client (Python grpcio), which nobody here wrote.

Usage: grpcio_check.py GATEWAY_ADDR PROTO_DIR
Stubs are generated at run time from the repository's protos with grpcio-tools. Exits non-zero
with a message on the first check that fails.
"""

import importlib
import os
import sys
import tempfile
import time
import uuid

import grpc
from grpc_tools import protoc


def generate(proto_dir: str, out: str) -> None:
    files = []
    for root, _, names in os.walk(os.path.join(proto_dir, "stride")):
        files += [os.path.join(root, n) for n in names if n.endswith(".proto")]
    files += [os.path.join(proto_dir, "google", "api", n) for n in ("annotations.proto", "http.proto")]
    files.append(os.path.join(proto_dir, "google", "type", "date.proto"))
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{proto_dir}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}"] + files
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # No __init__.py files: `google` must stay a namespace package shared with the installed
    # protobuf runtime.


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def main() -> None:
    addr, proto_dir = sys.argv[1], sys.argv[2]
    out = tempfile.mkdtemp(prefix="stride-grpcio-")
    generate(proto_dir, out)
    sys.path.insert(0, out)
    auth = importlib.import_module("stride.auth.v1.auth_pb2")
    auth_grpc = importlib.import_module("stride.auth.v1.auth_pb2_grpc")
    profile = importlib.import_module("stride.profile.v1.profile_pb2")
    profile_grpc = importlib.import_module("stride.profile.v1.profile_pb2_grpc")

    channel = grpc.insecure_channel(addr)
    grpc.channel_ready_future(channel).result(timeout=10)
    name = "py" + uuid.uuid4().hex[:10]
    res = auth_grpc.AuthServiceStub(channel).Signup(
        auth.SignupRequest(email=f"{name}@example.com", username=name, password="a long passphrase", timezone="Asia/Tokyo"),
        timeout=10,
    )
    check(len(res.tokens.access_token) > 0 and res.user.username == name, "Signup through the gateway returns a user and tokens")

    stub = profile_grpc.ProfileServiceStub(channel)
    try:
        stub.GetMyProfile(profile.GetMyProfileRequest(), timeout=10)
        check(False, "GetMyProfile without a token is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNAUTHENTICATED, "GetMyProfile without a token is UNAUTHENTICATED")

    meta = [("authorization", f"Bearer {res.tokens.access_token}")]
    deadline = time.monotonic() + 20
    while True:
        try:
            p = stub.GetMyProfile(profile.GetMyProfileRequest(), metadata=meta, timeout=10).profile
            break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    check(p.user_id == res.user.id and p.timezone == "Asia/Tokyo", "the profile arrives through events, with the sign-up timezone")

    try:
        auth_grpc.AuthServiceStub(channel).Signup(auth.SignupRequest(email="bad", username="x", password="short"), timeout=10)
        check(False, "bad sign-up is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "bad sign-up is INVALID_ARGUMENT")
        details = dict(e.trailing_metadata() or ())
        check("grpc-status-details-bin" in details, "the error carries google.rpc details")
    print("grpcio: all checks passed")


if __name__ == "__main__":
    main()
