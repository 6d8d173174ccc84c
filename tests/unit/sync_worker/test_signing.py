from sync_worker.signing import sign

# Computed independently of this code:
#   printf '%s' '1700000000.{"change_id":"x"}' | openssl dgst -sha256 -hmac test-secret
KNOWN = "v1=0b395e0a6768313bd540f57a4d91e97220f7514172571fd240adfba80d9ca32f"


def test_signature_matches_an_independently_computed_vector():
    assert sign("test-secret", 1700000000, b'{"change_id":"x"}') == KNOWN


def test_signature_covers_every_body_byte_and_the_timestamp():
    body = b'{"change_id":"x"}'
    assert sign("test-secret", 1700000000, body + b" ") != KNOWN
    assert sign("test-secret", 1700000001, body) != KNOWN
    assert sign("other-secret", 1700000000, body) != KNOWN


def test_signature_is_lowercase_hex_with_version_prefix():
    value = sign("s", 1, b"")
    prefix, digest = value.split("=", 1)
    assert prefix == "v1"
    assert len(digest) == 64 and digest == digest.lower()
    int(digest, 16)
