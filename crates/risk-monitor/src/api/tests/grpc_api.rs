//! The gRPC face: the same answers and refusals as HTTP, and the alert stream.

use super::*;

#[tokio::test]
async fn grpc_answers_and_refuses_as_http_does() {
    let m = monitor().await;
    let client = serve_grpc(m.api.clone()).await;

    let s = client.get_summary(pb::GetSummaryRequest {}).await.unwrap();
    assert_eq!(s, grpc::summary(summary()));
    assert_eq!(
        (s.at.as_str(), s.entities[0].equity_usd),
        ("2025-01-02T03:04:05Z", 1_100_000.0)
    );

    let got = client.get_limits(pb::GetLimitsRequest {}).await.unwrap();
    let document: Value = serde_json::from_str(&got.limits_json).unwrap();
    assert_eq!(document, serde_json::to_value(limits()).unwrap());
    let mut changed = limits_json();
    changed["order_rate"]["window"] = json!("20s");
    let set = client
        .set_limits(pb::Limits {
            limits_json: changed.to_string(),
        })
        .await
        .unwrap();
    let now: Value = serde_json::from_str(&set.limits_json).unwrap();
    assert_eq!(now["order_rate"]["window"], "20s");
    assert_eq!(
        refusal(
            client
                .set_limits(pb::Limits {
                    limits_json: unknown_reference()
                })
                .await
        ),
        (Code::InvalidArgument, UNKNOWN_REFERENCE.to_owned())
    );
    let (code, _) = refusal(
        client
            .set_limits(pb::Limits {
                limits_json: "{not json".into(),
            })
            .await,
    );
    assert_eq!(code, Code::InvalidArgument);
    let after: Value = serde_json::from_str(
        &client
            .get_limits(pb::GetLimitsRequest {})
            .await
            .unwrap()
            .limits_json,
    )
    .unwrap();
    assert_eq!(after, now, "refused limits changed nothing");

    let acknowledged = client.acknowledge_alert(id("alert-1")).await.unwrap();
    assert_eq!(
        (
            acknowledged.status.as_str(),
            acknowledged.acknowledged_at.as_str(),
            acknowledged.resolved_at.as_str(),
            acknowledged.entity.as_str(),
            acknowledged.symbol.as_str()
        ),
        ("ACKNOWLEDGED", "2025-01-02T03:04:05Z", "", "", "USDT-USD")
    );
    assert_eq!(
        refusal(client.acknowledge_alert(id("alert-2")).await),
        (
            Code::FailedPrecondition,
            "alert-2 is resolved; only an open alert can be acknowledged".to_owned()
        )
    );
    assert_eq!(
        refusal(client.acknowledge_alert(id("alert-9")).await),
        (Code::NotFound, "no alert alert-9".to_owned())
    );
    for bad in ["", "alert-0", "x"] {
        assert_eq!(
            refusal(client.get_alert(id(bad)).await),
            (Code::InvalidArgument, bad_id(bad))
        );
        assert_eq!(
            refusal(client.acknowledge_alert(id(bad)).await),
            (Code::InvalidArgument, bad_id(bad))
        );
    }

    for (query, _, message) in bad_queries() {
        let (name, value) = query.split_once('=').unwrap();
        let mut request = pb::ListAlertsRequest::default();
        match name {
            "status" => request.status = value.into(),
            "severity" => request.severity = value.into(),
            "kind" => request.kind = value.into(),
            "cursor" => request.cursor = value.into(),
            // gRPC has numbers, and 0 is the default page size there.
            "limit" => match value.parse::<u32>() {
                Ok(n) if n > 0 => request.limit = n,
                _ => continue,
            },
            other => panic!("{other}"),
        }
        assert_eq!(
            refusal(client.list_alerts(request).await),
            (Code::InvalidArgument, message),
            "{query}"
        );
    }
}

#[tokio::test]
async fn grpc_is_unavailable_when_the_monitor_task_is_gone() {
    let (gone, _) = monitor_with(Task::Gone, 8).await;
    let client = serve_grpc(gone.api.clone()).await;
    let message = "the risk monitor is not running (the instance is stopping)".to_owned();
    assert_eq!(
        refusal(client.get_summary(pb::GetSummaryRequest {}).await),
        (Code::Unavailable, message.clone())
    );
    assert_eq!(
        refusal(client.get_limits(pb::GetLimitsRequest {}).await),
        (Code::Unavailable, message.clone())
    );
    assert_eq!(
        refusal(client.acknowledge_alert(id("alert-1")).await),
        (Code::Unavailable, message)
    );
}

#[tokio::test]
async fn the_grpc_stream_sends_each_change_and_how_many_a_slow_reader_missed() {
    let (m, _) = monitor_with(Task::Answers, 2).await;
    let client = serve_grpc(m.api.clone()).await;
    let mut updates = client.stream_alerts().await.unwrap();
    // The stream is answered once it has subscribed.
    let raised = alert(5, Status::Active);
    m.events.send(AlertChange::Raised(raised.clone())).unwrap();
    let first = next(&mut updates).await;
    assert_eq!(
        first,
        pb::AlertUpdate {
            event_type: "alert.raised".into(),
            alert: Some(grpc::alert(raised)),
            skipped: 0,
        }
    );
    for n in 6..11 {
        m.events
            .send(AlertChange::Escalated(alert(n, Status::Active)))
            .unwrap();
    }
    let lagged = next(&mut updates).await;
    assert_eq!(
        (lagged.event_type.as_str(), lagged.skipped, lagged.alert),
        ("lagged", 3, None)
    );
    for n in 9..11 {
        let update = next(&mut updates).await;
        assert_eq!(update.event_type, "alert.escalated");
        assert_eq!(update.alert.map(|a| a.id), Some(format!("alert-{n}")));
    }
}

/// The next update of a gRPC alert stream.
async fn next(updates: &mut tse_client::Updates<pb::AlertUpdate>) -> pb::AlertUpdate {
    tokio::time::timeout(Duration::from_secs(10), updates.next())
        .await
        .expect("an update within 10 s")
        .expect("the stream goes on")
        .expect("an update")
}
