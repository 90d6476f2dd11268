"""Hotline calls from the telephony/CTI system: one envelope per call record.

A pure IVR call (the caller pressed digits and hung up) has no text at all; it is still a
contact the router must see, so an empty body is allowed here and only here.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from shared.models import InboundMessage, message_id_for

from . import fields
from .schemas import PhoneCall

_DECODER = msgspec.json.Decoder(PhoneCall)


def from_json(body: bytes | msgspec.Raw, received_at: datetime) -> InboundMessage:
    call = fields.decode_json(_DECODER, body)
    call_id = fields.clean_id(call.call_id, "$.call_id")
    started_at = fields.check_time(call.started_at, "$.started_at")
    transcript = fields.clean_text(call.transcript)
    voicemail = fields.clean_text(call.voicemail_text)
    return InboundMessage(
        message_id=message_id_for("phone", call_id),
        channel="phone",
        external_id=call_id,
        conversation_key=f"phone:{call_id}",
        received_at=fields.arrival(received_at, started_at),
        sent_at=started_at,
        body="\n\n".join(part for part in (transcript, voicemail) if part),
        customer=fields.customer(call.customer, "$", phone=call.from_),
        language=fields.language(call.language),
        ivr_selection=list(call.ivr_selection),
        attributes=fields.attributes(
            call.attributes,
            "$",
            {"phone_voicemail": True if voicemail else None},
        ),
    )
