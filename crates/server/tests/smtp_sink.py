"""A real SMTP server for the tests: aiosmtpd on loopback, writing each
message it accepts to a directory as JSON (envelope, headers, text and HTML
parts, attachments) beside the raw message, so the Rust tests read what a
mail program would see.

    python3 smtp_sink.py --port 2525 --dir /tmp/mail [--reject gone@example.test]

A --reject address is refused at RCPT with 550 (mailbox unavailable), as a
real server does for an address that does not exist. Prints "ready" once it
listens; stops on SIGTERM or SIGINT.
"""

import argparse
import email
import email.policy
import json
import os
import signal
import threading
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, rejected):
        self.directory = directory
        self.rejected = {address.lower() for address in rejected}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejected:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parsed = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[name, str(value)] for name, value in message.items()],
            "text": None,
            "html": None,
            "attachments": [],
        }
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_filename():
                parsed["attachments"].append(
                    {
                        "filename": part.get_filename(),
                        "content_type": part.get_content_type(),
                        "content": part.get_content() if part.get_content_maintype() == "text" else None,
                    }
                )
            elif part.get_content_type() == "text/plain":
                parsed["text"] = part.get_content()
            elif part.get_content_type() == "text/html":
                parsed["html"] = part.get_content()
        name = uuid.uuid4().hex
        with open(os.path.join(self.directory, name + ".eml"), "wb") as out:
            out.write(raw)
        # Written whole, then renamed: a reader never sees half a message.
        temporary = os.path.join(self.directory, "." + name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(parsed, out)
        os.rename(temporary, os.path.join(self.directory, name + ".json"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject", action="append", default=[])
    args = parser.parse_args()
    controller = Controller(Sink(args.dir, args.reject), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
