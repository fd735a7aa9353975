-- wrk: POSTs one signed Intuit webhook body (BODY and SIG from the environment) to every request.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["intuit-signature"] = os.getenv("SIG")
