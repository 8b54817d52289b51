"""The emulator answers over HTTPS, counts API calls and enforces the Byline__c validation rule."""


def test_limits_and_counting(sf_org):
    sf_org.admin.reset_usage()
    s = sf_org.session()
    versions = s.get(sf_org.instance_url + "/services/data/")
    assert versions.status_code == 200 and "Sforce-Limit-Info" not in versions.headers
    resp = s.get(sf_org.instance_url + "/services/data/v62.0/limits")
    assert resp.status_code == 200
    assert resp.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert resp.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 14999}
    assert sf_org.admin.usage()["DailyApiRequests"]["used"] == 1


def test_update_and_validation_rule(sf_org):
    ids = sf_org.admin.seed("Byline__c", 3, return_ids=True)["ids"]
    s = sf_org.session()
    url = f"{sf_org.instance_url}/services/data/v62.0/sobjects/Byline__c/{ids[0]}"
    assert s.patch(url, json={"Tweets__c": 42}).status_code == 204
    bad = s.patch(url, json={"Likes__c": -1})
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert s.get(url).json()["Tweets__c"] == 42


def test_bad_session_is_refused_and_not_counted(sf_org):
    sf_org.admin.reset_usage()
    resp = sf_org.session().get(
        sf_org.instance_url + "/services/data/v62.0/limits", headers={"Authorization": "Bearer nope"}
    )
    assert resp.status_code == 401
    assert resp.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert sf_org.admin.usage()["DailyApiRequests"]["used"] == 0
