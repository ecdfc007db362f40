"""The WeCom callback crypto: WeCom's published sample decrypts, our replies decrypt with the
same algorithm, and anything tampered with, or meant for another corp, is BadSignature."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from bot.settings import WeComSettings
from bot.wechat.crypto import WeComCrypto, parse_xml, signature
from bot.wechat.errors import BadSignature

# WeCom's own example (developer.work.weixin.qq.com/document/path/90968, and its WXBizMsgCrypt samples)
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
ECHO = (
    "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "1409659589",
    "263014780",
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
)
POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE = (
    "477715d11cdb4164915debcba66cb864d751f3e6",
    "1409659813",
    "1372623149",
)
POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
    "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrX"
    "JB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m"
    "3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt></xml>"
)


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_wecoms_own_samples_decrypt(crypto: WeComCrypto):
    assert crypto.verify_url(*ECHO) == "1616140317555161061"
    message = crypto.decrypt_message(POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, POST_BODY)
    assert message == {
        "ToUserName": CORP_ID,
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


def test_a_reply_round_trips(crypto: WeComCrypto):
    inner = (
        "<xml><FromUserName><![CDATA[zhangsan]]></FromUserName>"
        "<Content><![CDATA[已处理，换了轴承]]></Content></xml>"
    )
    envelope = crypto.encrypt_reply(inner, "1700000000", "n0nce")
    fields = parse_xml(envelope)
    assert fields["TimeStamp"] == "1700000000" and fields["Nonce"] == "n0nce"
    assert fields["MsgSignature"] == signature(TOKEN, "1700000000", "n0nce", fields["Encrypt"])
    assert len(base64.b64decode(fields["Encrypt"])) % 32 == 0  # padded to WeCom's 32 bytes
    decrypted = crypto.decrypt_message(fields["MsgSignature"], "1700000000", "n0nce", envelope)
    assert decrypted == {"FromUserName": "zhangsan", "Content": "已处理，换了轴承"}


def test_a_tampered_signature_or_field_is_refused(crypto: WeComCrypto):
    forged = "0" * 40
    with pytest.raises(BadSignature):
        crypto.decrypt_message(forged, POST_TIMESTAMP, POST_NONCE, POST_BODY)
    with pytest.raises(BadSignature):
        crypto.decrypt_message(POST_SIGNATURE, "1409659814", POST_NONCE, POST_BODY)  # another time
    with pytest.raises(BadSignature):
        crypto.verify_url(ECHO[0], ECHO[1], ECHO[2], ECHO[3].replace("P9n", "P9m"))


def test_a_validly_signed_message_for_another_corp_is_refused():
    other = WeComCrypto(TOKEN, AES_KEY, "ww-another-corp")
    with pytest.raises(BadSignature, match="corp"):
        other.decrypt_message(POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, POST_BODY)


def test_garbage_is_refused(crypto: WeComCrypto):
    encrypted = base64.b64encode(b"x" * 32).decode()  # whole blocks, nonsense inside
    signed = signature(TOKEN, "1", "2", encrypted)
    with pytest.raises(BadSignature):
        crypto.verify_url(signed, "1", "2", encrypted)
    for body in ("not xml", "<xml><ToUserName>x</ToUserName></xml>"):
        with pytest.raises(BadSignature):
            crypto.decrypt_message(POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, body)


def test_dtds_and_entities_are_refused_before_parsing(crypto: WeComCrypto):
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    with pytest.raises(BadSignature, match="DTD"):
        crypto.decrypt_message(POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, bomb)


def test_the_settings_check_the_aes_key():
    base = {
        "corp_id": CORP_ID,
        "agent_id": 1000002,
        "secret": SecretStr("s"),
        "callback_token": SecretStr(TOKEN),
    }
    settings = WeComSettings(**base, callback_aes_key=SecretStr(AES_KEY))
    assert settings.callback_enabled
    assert WeComCrypto.from_settings(settings).decrypt_message(
        POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, POST_BODY
    )
    for wrong in (AES_KEY[:-1], AES_KEY[:-1] + "!", AES_KEY + "="):
        with pytest.raises(ValidationError, match="EncodingAESKey"):
            WeComSettings(**base, callback_aes_key=SecretStr(wrong))
    with pytest.raises(ValidationError, match="together"):
        WeComSettings(
            corp_id=CORP_ID, agent_id=1000002, secret=SecretStr("s"), callback_token=SecretStr(TOKEN)
        )
