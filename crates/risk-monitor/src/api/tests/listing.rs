//! Listing and reading alerts from the store: filters, pages, one by one.

use super::*;

async fn store(m: &Monitor, alerts: &[Alert]) {
    let next_id = alerts.len() as u64 + 1;
    let statements = repo::statements(alerts, &[], next_id).expect("statements");
    m.storage.write(statements).await.expect("stored");
}

// Needs `infra::repo::{statements, list_alerts, get_alert}` (merged by the lead).
#[tokio::test]
async fn alerts_are_listed_newest_first_by_filter_and_page_and_read_one_by_one() {
    let m = monitor().await;
    let mut alerts: Vec<Alert> = (1..=5).map(|n| alert(n, Status::Active)).collect();
    alerts[1].status = Status::Resolved;
    alerts[1].resolved_at = Some(AT);
    alerts[3].severity = Severity::Critical;
    alerts[4].kind = RuleKind::StaleData;
    store(&m, &alerts).await;
    let url = serve_http(m.api.clone()).await;
    let ids = |body: &Value| -> Vec<String> {
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let (status, body) = get(&url, "/api/v1/alerts").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ids(&body),
        ["alert-5", "alert-4", "alert-3", "alert-2", "alert-1"]
    );
    assert_eq!(body["next_cursor"], Value::Null);
    assert_eq!(body["alerts"][4], serde_json::to_value(&alerts[0]).unwrap());

    let (_, page) = get(&url, "/api/v1/alerts?limit=2").await;
    assert_eq!(
        (ids(&page), &page["next_cursor"]),
        (vec!["alert-5".to_owned(), "alert-4".to_owned()], &json!("4"))
    );
    let (_, page) = get(&url, "/api/v1/alerts?limit=2&cursor=4").await;
    assert_eq!(
        (ids(&page), &page["next_cursor"]),
        (vec!["alert-3".to_owned(), "alert-2".to_owned()], &json!("2"))
    );
    let (_, page) = get(&url, "/api/v1/alerts?limit=2&cursor=2").await;
    assert_eq!(
        (ids(&page), &page["next_cursor"]),
        (vec!["alert-1".to_owned()], &Value::Null)
    );

    for (query, expected) in [
        ("status=resolved", vec!["alert-2"]),
        ("status=Active&severity=CRITICAL", vec!["alert-4"]),
        ("kind=STALE_DATA", vec!["alert-5"]),
        (
            "kind=stablecoin_depeg&status=ACTIVE&severity=warning",
            vec!["alert-3", "alert-1"],
        ),
        ("status=acknowledged", vec![]),
    ] {
        let (status, body) = get(&url, &format!("/api/v1/alerts?{query}")).await;
        assert_eq!(
            (status, ids(&body)),
            (200, expected.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()),
            "{query}"
        );
    }

    let (status, body) = get(&url, "/api/v1/alerts/alert-4").await;
    assert_eq!((status, body), (200, serde_json::to_value(&alerts[3]).unwrap()));
    let (status, body) = get(&url, "/api/v1/alerts/alert-6").await;
    assert_eq!(
        (status, error(&body)),
        (404, ("unknown_alert", "no alert alert-6"))
    );

    let client = serve_grpc(m.api.clone()).await;
    let page = client
        .list_alerts(pb::ListAlertsRequest {
            status: "active".into(),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let got: Vec<&str> = page.alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        (got, page.next_cursor.as_str()),
        (vec!["alert-5", "alert-4"], "4")
    );
    assert_eq!(
        client.get_alert(id("alert-1")).await.unwrap(),
        grpc::alert(alerts[0].clone())
    );
    assert_eq!(
        refusal(client.get_alert(id("alert-6")).await),
        (Code::NotFound, "no alert alert-6".to_owned())
    );
}
