"""The shipped FreeSWITCH configuration installs as its README says (issue 13 item 8).

A stock-shaped FreeSWITCH 1.10 configuration (the vanilla file layout: ``freeswitch.xml``
including ``vars.xml``, ``autoload_configs/*.xml`` and ``dialplan/*.xml``; ``public.xml``
including ``public/*.xml`` inside its public context) gets the README's install commands, run
as written, and is then loaded with FreeSWITCH's preprocessor (``X-PRE-PROCESS`` include/set,
``$${var}``) and dialplan rules. Before the split, ``ivr.xml`` installed as
``public/10_ivr.xml`` nested its contexts inside public (95588 had no route, no ``ivr``
context) and installed as ``dialplan/ivr.xml`` its public block shadowed the stock one.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from telephony.simulator import Dialplan

SHIPPED = Path(__file__).resolve().parents[2] / "telephony" / "freeswitch"
SECRET = "s3cret-From-Vault"

STOCK = {
    "freeswitch.xml": """<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="include" data="vars.xml"/>
  <section name="configuration" description="Various Configuration">
    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan/*.xml"/>
  </section>
  <section name="directory" description="User Directory">
    <X-PRE-PROCESS cmd="include" data="directory/*.xml"/>
  </section>
</document>
""",
    "vars.xml": """<include>
  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>
  <X-PRE-PROCESS cmd="set" data="hold_music=local_stream://moh"/>
</include>
""",
    "autoload_configs/modules.conf.xml": """<configuration name="modules.conf">
  <modules>
    <load module="mod_event_socket"/>
    <load module="mod_sofia"/>
    <load module="mod_commands"/>
    <load module="mod_dptools"/>
    <load module="mod_dialplan_xml"/>
    <load module="mod_sndfile"/>
    <load module="mod_native_file"/>
    <load module="mod_local_stream"/>
    <load module="mod_tone_stream"/>
    <!--<load module="mod_callcenter"/>-->
  </modules>
</configuration>
""",
    "autoload_configs/event_socket.conf.xml": """<configuration name="event_socket.conf">
  <settings>
    <param name="listen-ip" value="::"/>
    <param name="listen-port" value="8021"/>
    <param name="password" value="ClueCon"/>
  </settings>
</configuration>
""",
    "dialplan/default.xml": """<include>
  <context name="default">
    <extension name="unloop">
      <condition field="${unroll_loops}" expression="^true$"/>
      <condition field="${sip_looped_call}" expression="^true$">
        <action application="deflect" data="${destination_number}"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
  </context>
</include>
""",
    "dialplan/public.xml": """<include>
  <context name="public">
    <extension name="outside_call" continue="true">
      <condition>
        <action application="set" data="outside_call=true"/>
      </condition>
    </extension>
    <extension name="public_extensions">
      <condition field="destination_number" expression="^(10[01][0-9])$">
        <action application="transfer" data="$1 XML default"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="public/*.xml"/>
  </context>
</include>
""",
    "dialplan/public/00_inbound_did.xml": """<include>
  <extension name="public_did">
    <condition field="destination_number" expression="^(5551212)$">
      <action application="transfer" data="1000 XML default"/>
    </condition>
  </extension>
</include>
""",
    "directory/default.xml": """<include>
  <domain name="$${domain}">
    <groups><group name="default"><users>
      <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
    </users></group></groups>
  </domain>
</include>
""",
    "directory/default/1001.xml": """<include>
  <user id="1001">
    <params><param name="password" value="$${default_password}"/></params>
    <variables><variable name="effective_caller_id_number" value="1001"/></variables>
  </user>
</include>
""",
}


def install_commands() -> str:
    """The README's install block, as an administrator would paste it."""
    text = (SHIPPED / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- install:begin -->", 1)[1].split("<!-- install:end -->", 1)[0]
    return re.sub(r"^```\w*$", "", block, flags=re.MULTILINE)


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    conf = tmp_path / "etc-freeswitch"
    for name, text in STOCK.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(text, encoding="utf-8")
    script = install_commands()
    script = re.sub(r"^FS_CONF=.*$", f"FS_CONF={conf}", script, flags=re.MULTILINE)
    script = re.sub(r"^SRC=.*$", f"SRC={SHIPPED}", script, flags=re.MULTILINE)
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=True,
        env={"PATH": "/usr/bin:/bin", "IVR_FREESWITCH_PASSWORD": SECRET},
    )
    return conf


def load(conf: Path) -> Dialplan:
    core = {"recordings_dir": "/var/lib/freeswitch/recordings", "local_ip_v4": "192.0.2.2"}
    return Dialplan.load(conf / "freeswitch.xml", core)


def test_public_include_holds_extensions_only_and_ivr_is_its_own_context() -> None:
    for path in (SHIPPED / "dialplan" / "public").glob("*.xml"):
        assert "<context" not in path.read_text(encoding="utf-8"), path.name
    contexts = re.findall(
        r'<context name="([^"]+)"', (SHIPPED / "dialplan" / "ivr.xml").read_text()
    )
    assert contexts == ["ivr"]


def test_routes_of_the_installed_configuration(installed: Path) -> None:
    plan = load(installed)
    assert set(plan.contexts) == {"default", "public", "ivr"}
    # the stock public context keeps its own extensions beside ours
    public = [e.name for e in plan.contexts["public"]]
    assert public[:2] == ["outside_call", "public_extensions"]
    assert "public_did" in public and "ivr_inbound_service_numbers" in public
    assert plan.route("public", {"destination_number": "1005"}, {}) == [
        ("set", "outside_call=true"),
        ("transfer", "1005 XML default"),
    ]
    inbound = plan.route("public", {"destination_number": "95588"}, {}) or []
    assert inbound[0] == ("set", "outside_call=true")  # continue="true" still runs first
    assert ("socket", "127.0.0.1:8084 async full") in inbound
    paths = [d for a, d in inbound if a == "set" and d.startswith("ivr_recording_path=")]
    assert paths == [
        "ivr_recording_path=/var/lib/freeswitch/recordings/ivr/${strftime(%Y/%m/%d)}/${uuid}.wav"
    ]
    for queue in ("senior", "general"):
        route = plan.route("ivr", {"destination_number": f"queue_{queue}"}, {}) or []
        assert ("callcenter", f"{queue}@default") in route
        assert route[-1] == ("transfer", "callback_ticket XML ivr")
    callback = plan.route("ivr", {"destination_number": "callback_ticket"}, {}) or []
    assert ("socket", "127.0.0.1:8084 async full") in callback
    outbound = plan.route("ivr", {"destination_number": "ivr_outbound"}, {}) or []
    assert [a for a, _ in outbound][-2:] == ["socket", "hangup"]
    assert plan.queues["senior@default"].moh_sound == "local_stream://moh"
    assert plan.queues["general@default"].max_wait_no_agent == 60


def test_installed_settings_modules_and_agents(installed: Path) -> None:
    values = {"recordings_dir": "/var/lib/freeswitch/recordings", "local_ip_v4": "192.0.2.2"}
    from telephony.simulator.dialplan import preprocess

    text = preprocess(installed / "freeswitch.xml", values)
    root = ET.fromstring(text)
    assert values["ivr_esl_password"] == SECRET
    esl = root.find(".//configuration[@name='event_socket.conf']")
    assert esl is not None
    params = {p.get("name"): p.get("value") for p in esl.iter("param")}
    assert params["password"] == SECRET and params["listen-ip"] == "127.0.0.1"
    modules = [m.get("module") for m in root.iter("load")]
    assert "mod_callcenter" in modules and "mod_local_stream" in modules
    users = {u.get("id") for u in root.iter("user")}
    assert {"1001", "1101"} <= users
    agents = {a.get("name"): a for a in root.iter("agent")}
    for name, agent in agents.items():
        assert agent.get("status") == "Logged Out", name
        contact = agent.get("contact") or ""
        assert contact.rsplit("/", 1)[-1] in users, name
