"""The WeCom callback's message crypto (企业微信 回调 加解密), as WeCom documents it.

- ``msg_signature`` = SHA-1 hex of the sorted, concatenated token, timestamp, nonce and
  encrypted text; compared in constant time.
- The encrypted text is base64 of AES-256-CBC (key = base64 of EncodingAESKey + "=", iv = the
  key's first 16 bytes) over: 16 random bytes, the message's length as 4 bytes in network
  order, the message, the receive id (the corp id), padded PKCS#7-style to a multiple of 32.
- A wrong signature, receive id, padding or envelope: ``BadSignature`` (the route answers 403).

The XML comes from outside: bodies with a DTD or an entity declaration are refused before
parsing (no defusedxml here), then ``xml.etree`` reads them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.settings import WeComSettings
from bot.wechat.errors import BadSignature

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
MAX_BODY = 64 * 1024


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The children of an XML document's root, as tag -> text. No DTDs or entities."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_BODY:
        raise BadSignature("the XML body is too large")
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise BadSignature("XML with a DTD or an entity is refused")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise BadSignature(f"not XML: {exc}") from None
    return {child.tag: (child.text or "") for child in root}


class WeComCrypto:
    """The callback of one WeCom app: ``token`` and ``aes_key`` (43 characters) as set in
    the WeCom admin console, ``receive_id`` the corp id."""

    def __init__(self, token: str, aes_key: str, receive_id: str):
        try:
            self.key = base64.b64decode(aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the EncodingAESKey is not base64") from None
        if len(self.key) != 32:
            raise ValueError("the EncodingAESKey is 43 characters of base64 (32 bytes)")
        self.token = token
        self.receive_id = receive_id.encode("utf-8")

    @classmethod
    def from_settings(cls, settings: WeComSettings) -> WeComCrypto:
        if settings.callback_token is None or settings.callback_aes_key is None or settings.corp_id is None:
            raise ValueError(
                "the WeCom callback is not configured (CRAFTDESK_WECOM__CALLBACK_TOKEN, ..._AES_KEY)"
            )
        token, key = settings.callback_token.get_secret_value(), settings.callback_aes_key.get_secret_value()
        return cls(token, key, settings.corp_id)

    # ---- the URL check and incoming messages ---------------------------------------------

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """WeCom's check of a callback URL (GET): the plaintext of ``echostr`` to answer with."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_message(
        self, msg_signature: str, timestamp: str, nonce: str, xml_body: bytes | str
    ) -> dict[str, str]:
        """A callback POST: the inner message as tag -> text (``FromUserName``, ``MsgType``,
        ``Content``, ``MsgId``, ``AgentID``, ...)."""
        envelope = parse_xml(xml_body)
        encrypted = envelope.get("Encrypt")
        if not encrypted:
            raise BadSignature("no Encrypt element")
        self._check(msg_signature, timestamp, nonce, encrypted)
        return parse_xml(self._decrypt(encrypted))

    # ---- passive replies -------------------------------------------------------------------

    def encrypt_reply(self, reply_xml: str, timestamp: str | None = None, nonce: str | None = None) -> str:
        """The envelope answering a callback POST with ``reply_xml`` (a reply message), signed."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        encrypted = self.encrypt(reply_xml)
        signed = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signed}]]></MsgSignature>"
            f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
            f"<Nonce><![CDATA[{escape(nonce)}]]></Nonce></xml>"
        )

    def encrypt(self, plaintext: str) -> str:
        message = plaintext.encode("utf-8")
        data = os.urandom(16) + struct.pack(">I", len(message)) + message + self.receive_id
        pad = BLOCK - len(data) % BLOCK
        data += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode("ascii")

    # ---- inside ------------------------------------------------------------------------------

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.encode("utf-8", "replace")):
            raise BadSignature("the signature does not match")

    def _decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise BadSignature("the encrypted text is not base64") from None
        if not data or len(data) % 16:
            raise BadSignature("the encrypted text is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise BadSignature("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise BadSignature("too short")
        (length,) = struct.unpack(">I", content[:4])
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if len(message) != length or not hmac.compare_digest(receive_id, self.receive_id):
            raise BadSignature("the message is not for this corp")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise BadSignature("the message is not UTF-8") from None

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))
