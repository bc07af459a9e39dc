//! The published contracts stay true to the code: every route the
//! gateway's routers serve is in `docs/openapi.yaml` and nothing else is;
//! every queue, event key and message kind of the message contract
//! (`gw-contract`) is in `docs/asyncapi.yaml`, on the right channel, and
//! nothing else is. (CI lints both documents: `.ci/contract-checks`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gw_contract::{Contract, EventKey, queues};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `.route("…"` path literal in the gateway's sources (the sandbox
/// platform is not the gateway).
fn served_routes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for top in ["services", "shared"] {
        for entry in std::fs::read_dir(repo().join(top)).unwrap() {
            let p = entry.unwrap().path();
            if p.file_name().is_some_and(|n| n != "sandbox") {
                dirs.push(p.join("src"));
            }
        }
    }
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let src = std::fs::read_to_string(&p).unwrap();
                let mut rest = src.as_str();
                while let Some(at) = rest.find(".route(") {
                    rest = &rest[at + ".route(".len()..];
                    let arg = rest.trim_start();
                    if let Some(lit) = arg.strip_prefix('"') {
                        let end = lit.find('"').unwrap();
                        found.insert(lit[..end].to_owned());
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_served_route_is_in_the_openapi_document_and_nothing_else() {
    let doc = yaml("docs/openapi.yaml");
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let served = served_routes();
    assert!(served.len() > 40, "the routes were not found: {served:?}");
    let undocumented: Vec<&String> = served.difference(&documented).collect();
    let unserved: Vec<&String> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in docs/openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in docs/openapi.yaml but not served: {unserved:?}"
    );
    // Every admin operation takes the bearer token; every console page the
    // session.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scheme = op["security"][0]
                .as_object()
                .and_then(|s| s.keys().next().cloned());
            if path.starts_with("/admin/") {
                assert_eq!(scheme.as_deref(), Some("adminToken"), "{method} {path}");
            } else if path.starts_with("/console/") && path != "/console/login"
                || path == "/console"
            {
                assert_eq!(scheme.as_deref(), Some("consoleSession"), "{method} {path}");
            }
        }
    }
}

/// The channel whose address is `address`, and the `name` (AMQP type) of
/// each message it carries.
fn channel<'a>(doc: &'a Value, address: &str) -> (&'a Value, Vec<String>) {
    let (_, c) = doc["channels"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, c)| c["address"] == address)
        .unwrap_or_else(|| panic!("no channel {address} in docs/asyncapi.yaml"));
    let names = c["messages"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| {
            let r = m["$ref"].as_str().unwrap();
            let key = r.rsplit('/').next().unwrap();
            doc["components"]["messages"][key]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{r} does not resolve"))
                .to_owned()
        })
        .collect();
    (c, names)
}

#[test]
fn the_asyncapi_document_matches_the_message_contract() {
    let doc = yaml("docs/asyncapi.yaml");
    let prefix = "gw.";
    // Every work queue, with the kind of message it carries.
    let mut kinds: Vec<(&str, String)> = vec![
        (
            gw_contract::NoticeCommand::QUEUE,
            gw_contract::NoticeCommand::KIND.to_owned(),
        ),
        (
            gw_contract::ReviewDecision::QUEUE,
            gw_contract::ReviewDecision::KIND.to_owned(),
        ),
        (
            gw_contract::IssueCommand::QUEUE,
            gw_contract::IssueCommand::KIND.to_owned(),
        ),
        (
            gw_contract::PaymentConfirmation::QUEUE,
            gw_contract::PaymentConfirmation::KIND.to_owned(),
        ),
        (
            gw_contract::PayoutConfirmation::QUEUE,
            gw_contract::PayoutConfirmation::KIND.to_owned(),
        ),
        (
            gw_contract::InvoiceIssued::QUEUE,
            gw_contract::InvoiceIssued::KIND.to_owned(),
        ),
    ];
    for i in gw_protocol::Interface::INBOUND {
        if let Some(q) = queues::for_inbound(i) {
            kinds.push((q, gw_contract::inbound::kind(i)));
        }
    }
    for (queue, kind) in &kinds {
        let (c, names) = channel(&doc, &format!("{prefix}{queue}"));
        assert_eq!(names, vec![kind.clone()], "the messages of {queue}");
        assert_eq!(c["bindings"]["amqp"]["is"], "queue", "{queue}");
    }
    let contract_queues: BTreeSet<String> =
        queues::ALL.iter().map(|q| format!("{prefix}{q}")).collect();
    let with_kinds: BTreeSet<String> = kinds.iter().map(|(q, _)| format!("{prefix}{q}")).collect();
    assert_eq!(
        contract_queues, with_kinds,
        "every queue of queues::ALL has its kind here"
    );
    // Every event key, its message named by the key.
    for key in EventKey::ALL {
        let (c, names) = channel(&doc, key.as_str());
        assert_eq!(
            names,
            vec![key.as_str().to_owned()],
            "the message of {}",
            key.as_str()
        );
        assert_eq!(c["bindings"]["amqp"]["exchange"]["name"], "gw.events");
    }
    // And nothing else.
    let events: BTreeSet<String> = EventKey::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    for c in doc["channels"].as_object().unwrap().values() {
        let address = c["address"].as_str().unwrap().to_owned();
        assert!(
            contract_queues.contains(&address) || events.contains(&address),
            "{address} in docs/asyncapi.yaml is not in the contract"
        );
    }
}

/// Each shape of an application event's `details` is a schema of the
/// document, field for field.
#[test]
fn every_event_details_shape_is_documented() {
    use gw_contract::details::*;
    let doc = yaml("docs/asyncapi.yaml");
    let samples = vec![
        Details::RulesDecision(RulesDecision {
            decision: "approve".into(),
            reason: "r".into(),
            decided_by: "rules".into(),
            bzjamount: "1".into(),
            biddername: "b".into(),
            biddercode: "c".into(),
            rate: "0.0015".into(),
            cost: "1".into(),
            checks: vec![],
        }),
        Details::Review(Review {
            decision: "approve".into(),
            reason: "r".into(),
            decided_by: "d".into(),
            rate: None,
            cost: None,
        }),
        Details::Payment(Payment {
            paynumber: "p".into(),
            paymoney: "1".into(),
            cost: "1".into(),
            paytype: "04".into(),
            reason: Some("held".into()),
        }),
        Details::Restored(Restored {
            baohanno: "b".into(),
            poltime: "t".into(),
            validtime: "t".into(),
            areacode: "430100".into(),
            resent: false,
            amended: false,
        }),
        Details::ClaimPaid(ClaimPaid {
            applicationno: "a".into(),
            amount_cents: 1,
            claimed_cents: 1,
            reference: "r".into(),
        }),
        Details::Issued(Issued {
            baohanno: "b".into(),
            sm3: "s".into(),
            bzjamount: "1".into(),
        }),
        Details::RequestRefused(RequestRefused {
            interface: "quitapply".into(),
            applicationno: "a".into(),
            reason: "r".into(),
        }),
        Details::InvoiceIssued(InvoiceIssued {
            applicationno: "a".into(),
            invoice_number: None,
            amount: "1".into(),
        }),
        Details::Refunded(Refunded {
            applicationno: "a".into(),
            scene: "1".into(),
            amount_cents: 1,
        }),
        Details::Cancelled(Cancelled {
            scene: "1".into(),
            previous: None,
        }),
        Details::CancelRefused(CancelRefused {
            scene: "1".into(),
            reason: "r".into(),
        }),
        Details::Refused(Refused { reason: "r".into() }),
        Details::Voided(Voided {
            baohanno: None,
            reason: "r".into(),
        }),
        Details::Expired(Expired {
            baohanno: "b".into(),
            validtime: None,
        }),
        Details::WrittenOff(WrittenOff {
            applicationno: "a".into(),
        }),
    ];
    let documented: Vec<(String, BTreeSet<String>)> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("Details") || name.ends_with("Details"))
        .map(|(name, s)| {
            (
                name.clone(),
                s["properties"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        documented.len(),
        samples.len(),
        "one schema per shape: {documented:?}"
    );
    for d in &samples {
        let keys: BTreeSet<String> = serde_json::to_value(d)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let matching: Vec<&String> = documented
            .iter()
            .filter(|(_, props)| *props == keys)
            .map(|(name, _)| name)
            .collect();
        assert_eq!(matching.len(), 1, "{d:?} is documented by {matching:?}");
    }
}
