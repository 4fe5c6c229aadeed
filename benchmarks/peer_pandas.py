"""The peer to beat: the plain script an analyst would write instead of the engine.

orjson parses each page, ``pd.DataFrame.from_records`` makes the frames, and merges do the heavy joins
of the diagnosis: the target queues of each incoming email (To/Cc addresses, queue items, the receiving
mailbox's queue), the queues reached only outside To/Cc (Bcc), replies to tracked emails (In-Reply-To
matching a Message-ID, correlation, parent activity) and target queues without an active rule. It
writes one JSON object per email, as the engine's report does.

    .venv/bin/python benchmarks/peer_pandas.py SNAPSHOT_FOLDER OUTPUT.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

ADDRESS = r"^.*<([^<>]*)>$"


def read_table(folder: Path, table: str) -> pd.DataFrame:
    pages = sorted(folder.glob(f"{table}*.json"), key=lambda path: (len(path.name), path.name))
    rows = [row for path in pages for row in orjson.loads(path.read_bytes())["value"]]
    return pd.DataFrame.from_records(rows)


def address(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip().str.replace(ADDRESS, r"\1", regex=True)
    return text.str.strip("<> ").str.lower()


def lower(values: pd.Series) -> pd.Series:
    return values.astype("str").str.strip("{} ").str.lower()


def targets(emails: pd.DataFrame, parties: pd.DataFrame, queues: pd.DataFrame, items: pd.DataFrame,
            mailboxes: pd.DataFrame) -> pd.DataFrame:
    """(activityid, queueid, via): every way an email reaches a queue."""
    queues = queues.assign(queueid=lower(queues["queueid"]), address=address(queues["emailaddress"]))
    to_cc = parties[parties["participationtypemask"].isin([2, 3])]
    to_cc = to_cc.assign(activityid=lower(to_cc["_activityid_value"]), address=address(to_cc["addressused"]))
    by_address = to_cc.merge(queues[["queueid", "address"]], on="address")[["activityid", "queueid"]]
    by_item = items.assign(activityid=lower(items["_objectid_value"]), queueid=lower(items["_queueid_value"]))
    mailbox_queue = mailboxes.assign(mailboxid=lower(mailboxes["mailboxid"]),
                                     queueid=lower(mailboxes["_regardingobjectid_value"]))
    by_mailbox = emails.merge(mailbox_queue[["mailboxid", "queueid"]], left_on="receivingmailboxid",
                              right_on="mailboxid")[["activityid", "queueid"]]
    return pd.concat([by_address.assign(via="to"), by_item[["activityid", "queueid"]].assign(via="item"),
                      by_mailbox.assign(via="mailbox")], ignore_index=True)


def diagnose(folder: Path) -> list[dict]:
    emails = read_table(folder, "emails")
    parties, queues = read_table(folder, "activityparties"), read_table(folder, "queues")
    items, mailboxes, rules = (read_table(folder, name) for name in ("queueitems", "mailboxes", "convertrules"))
    emails = emails.assign(activityid=lower(emails["activityid"]),
                           receivingmailboxid=lower(emails["_receivingmailboxid_value"]))
    incoming = emails[emails["directioncode"].eq(False)]
    reached = targets(incoming, parties, queues, items, mailboxes)
    reached = reached[reached["activityid"].isin(incoming["activityid"])]
    in_to = reached.loc[reached["via"] == "to", ["activityid", "queueid"]].drop_duplicates()
    outside = reached[reached["via"] != "to"].merge(in_to, how="left", indicator=True)
    bcc = outside.loc[outside["_merge"] == "left_only", "activityid"].unique()
    message_ids = set(emails["messageid"].str.strip("<> ").str.lower().dropna())
    reply = (incoming["inreplyto"].str.strip("<> ").str.lower().isin(message_ids)
             | incoming["correlationmethod"].between(3, 6) | incoming["_parentactivityid_value"].notna())
    active = rules[rules["statecode"] == 1].assign(queueid=lambda frame: lower(frame["_queueid_value"]))
    ruled = reached.merge(active[["queueid"]].drop_duplicates(), how="left", on="queueid", indicator=True)
    no_rule = ruled.loc[ruled["_merge"] == "left_only", "activityid"].unique()
    queues_of = reached.groupby("activityid")["queueid"].unique()
    result = incoming[["activityid", "subject", "createdon", "sender"]].copy()
    result["queues"] = result["activityid"].map(queues_of)
    result["queue_only_in_bcc"] = result["activityid"].isin(bcc)
    result["reply_to_tracked_email"] = reply.to_numpy()
    result["no_active_rule_for_queue"] = result["activityid"].isin(no_rule)
    result["queues"] = [list(value) if isinstance(value, np.ndarray) else [] for value in result["queues"]]
    return result.to_dict("records")


def main() -> None:
    folder, output = Path(sys.argv[1]), Path(sys.argv[2])
    output.write_bytes(orjson.dumps(diagnose(folder), option=orjson.OPT_SERIALIZE_NUMPY))


if __name__ == "__main__":
    main()
