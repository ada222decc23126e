"""The offline cloud in one object: ACR emulator, DingTalk sink and a SQLite store in a work directory.

``LocalCloud`` backs ``acr-sync demo``, ``acr-sync invoke --local`` and the end-to-end tests. Its ``env``
is exactly the configuration a deployed function would get, pointed at loopback.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from types import TracebackType

from acrsync.local.acr_emulator import AcrEmulator
from acrsync.local.acr_model import AcrModel
from acrsync.local.dingtalk_sink import DingTalkSink
from acrsync.local.eventbridge_api import EventBridgeState, eventbridge_standin
from acrsync.local.fc_api import FcState, fc_standin

ACCOUNT_ID = "1234567890123456"
SOURCE = ("cri-demo-src", "cn-hangzhou")
SHANGHAI = ("cri-demo-sh", "cn-shanghai")
BEIJING = ("cri-demo-bj", "cn-beijing")
ROBOT_TOKEN = "demo-robot-token-0123456789abcdef"
EVENT_BUS = "acr-sync-outcomes"  # the custom bus s.yaml creates for outcome events
S_YAML = Path(__file__).resolve().parents[3] / "s.yaml"
ROBOT_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"


def seed_world(model: AcrModel) -> None:
    """The world ``examples/rules.yaml`` and ``events/`` describe: one Premium source, two destinations.

    Destination namespaces exist with auto-create-repository on, except ``platform`` in Beijing (missing on
    purpose: rules that send platform images there fail with ACR's namespace error).
    """
    model.add_instance(SOURCE[0], region=SOURCE[1], name="demo-source")
    model.add_instance(SHANGHAI[0], region=SHANGHAI[1], name="demo-shanghai")
    model.add_instance(BEIJING[0], region=BEIJING[1], name="demo-beijing")
    for ns in ("team-a", "platform"):
        model.add_namespace(SOURCE[0], ns)
        model.add_namespace(SHANGHAI[0], ns, auto_create_repo=True)
    model.add_namespace(BEIJING[0], "team-a", auto_create_repo=True)
    model.add_namespace(BEIJING[0], "prod-team-a", auto_create_repo=True)


class LocalCloud:
    """Start with ``with LocalCloud(workdir) as cloud:``; everything stops on exit, nothing left running."""

    def __init__(self, workdir: Path, *, model: AcrModel | None = None, seed: bool = True) -> None:
        self.workdir = Path(workdir)
        self.model = model or AcrModel(account_id=ACCOUNT_ID)
        if seed:
            seed_world(self.model)
        self.emulator = AcrEmulator(self.model)
        self.sink = DingTalkSink({ROBOT_TOKEN: ROBOT_SECRET})
        # FC 3.0 and EventBridge, holding what `s deploy` of s.yaml would have made (``deployed_s_yaml``).
        self.fc_state = FcState()
        self.eventbridge_state = EventBridgeState()
        self.eventbridge_state.add_bus(EVENT_BUS)
        self.fc = fc_standin(self.fc_state)
        self.eventbridge = eventbridge_standin(self.eventbridge_state)

    def __enter__(self) -> LocalCloud:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulator.start()
        self.sink.up()
        self.fc.start()
        self.eventbridge.start()
        self.fc.keys.secrets.update(self.emulator.keys.secrets)  # one account: the same keys everywhere
        self.eventbridge.keys.secrets.update(self.emulator.keys.secrets)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.model.stop_ticker()
        self.eventbridge.stop()
        self.fc.stop()
        self.sink.down()
        self.emulator.stop()

    @property
    def env(self) -> dict[str, str]:
        """The function configuration, pointed at this cloud."""
        return {
            "ACRSYNC_STORE": f"sqlite:///{self.workdir / 'acrsync.db'}",
            "ACRSYNC_REGION": SOURCE[1],
            "ACRSYNC_ACR_ENDPOINT": self.emulator.url,
            "ACRSYNC_ALLOWED_ACCOUNT_IDS": ACCOUNT_ID,
            "ACRSYNC_DINGTALK_WEBHOOK": self.sink.webhook_url(ROBOT_TOKEN),
            "ACRSYNC_DINGTALK_SECRET": ROBOT_SECRET,
            "ACRSYNC_LOG_LEVEL": "WARNING",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": self.emulator.access_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": self.emulator.access_key_secret,
            "ACRSYNC_FC_ENDPOINT": self.fc.url,
            "ACRSYNC_EVENTBRIDGE_ENDPOINT": self.eventbridge.url,
        }

    def deployed_s_yaml(self) -> Path:
        """Deploy s.yaml (its source instance set to this cloud's) into the FC and EventBridge stand-ins,
        as ``s deploy`` would; write that s.yaml into the work directory and return its path."""
        import yaml

        from acrsync.local.deployed import deploy

        doc = yaml.safe_load(S_YAML.read_text(encoding="utf-8"))
        doc["vars"]["source_instance_id"] = SOURCE[0]
        doc["vars"]["region"] = SOURCE[1]
        doc["vars"]["allowed_account_ids"] = ACCOUNT_ID
        deploy(
            doc,
            region=SOURCE[1],
            account=ACCOUNT_ID,
            env_values=self.env,
            fc=self.fc_state,
            eventbridge=self.eventbridge_state,
        )
        if not self.model.event_center_rules.get(SOURCE[0]):  # the console's Event Notification rule
            from acrsync.local.acr_sync_rules import add_event_center_rule

            add_event_center_rule(self.model, instance=SOURCE[0], name="to-eventbridge")
        path = self.workdir / "s.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path


def seed_events(model: AcrModel, events_dir: Path, only: Collection[str] = ()) -> int:
    """Push every image the ``events/`` push fixtures name (or only the files named in ``only``), with their
    digests and RepoIds; count them.

    So ``acr-sync invoke replicator events/...`` against the emulator finds the tag it is told about.
    """
    from acrsync.domain.events import PushCompleted, RawDataPolicy, parse_events
    from acrsync.errors import InvalidEvent

    count = 0
    for path in sorted((events_dir / "acs.cr").glob("push_completed*.json")):
        if only and path.name not in only:
            continue
        try:
            events = parse_events(
                path.read_bytes(),
                allowed_accounts=frozenset({model.account_id}),
                raw_data=RawDataPolicy(accept=True),  # seeding: every fixture's image, RawData ones too
            )
        except InvalidEvent:
            continue
        for event in events:
            if isinstance(event, PushCompleted):
                _push(model, event)
                count += 1
    return count


def _push(model: AcrModel, event: object) -> None:
    image = event.source_image  # type: ignore[attr-defined]
    model.push(image.instance_id, image.namespace, image.repo, image.tag, image.digest)
    if image.repo_id:
        repo = model.repo_by_name(image.instance_id, image.namespace, image.repo)
        # Fixtures carry RepoIds; the emulator invents its own. Adopt the fixture's id when it is free.
        if repo.repo_id != image.repo_id and image.repo_id not in model.repos:
            model.repos.pop(repo.repo_id)
            repo.repo_id = image.repo_id
            model.repos[repo.repo_id] = repo
