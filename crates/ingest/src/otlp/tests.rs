use super::*;
use crate::{Format, parse};
use serde_json::json;

fn kv(key: &str, v: proto::Value) -> proto::KeyValue {
    proto::KeyValue { key: key.into(), value: Some(proto::AnyValue { value: Some(v) }) }
}

fn int(key: &str, n: i64) -> proto::KeyValue {
    kv(key, proto::Value::IntValue(n))
}

fn s(key: &str, v: &str) -> proto::KeyValue {
    kv(key, proto::Value::StringValue(v.into()))
}

fn request(spans: Vec<proto::Span>) -> proto::ExportTraceServiceRequest {
    proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![s("service.name", "support-bot"), s("user.id", "ivan.petrov")],
            }),
            scope_spans: vec![proto::ScopeSpans { spans }],
        }],
    }
}

fn span(id: u8, attributes: Vec<proto::KeyValue>) -> proto::Span {
    proto::Span {
        trace_id: vec![0xab; 16],
        span_id: vec![id; 8],
        name: "chat".into(),
        start_time_unix_nano: 1_793_700_000_000_000_000,
        end_time_unix_nano: 1_793_700_000_900_000_000,
        attributes,
        status: None,
    }
}

fn genai() -> Vec<proto::KeyValue> {
    vec![
        s("gen_ai.request.model", "claude-sonnet-4-5"),
        s("gen_ai.provider.name", "anthropic"),
        int("gen_ai.usage.input_tokens", 1500),
        int("gen_ai.usage.output_tokens", 400),
        int("gen_ai.usage.cache_read.input_tokens", 1000),
        int("gen_ai.usage.cache_creation.input_tokens", 200),
        s("gen_ai.prompt", "the prompt's text is never copied"),
    ]
}

#[test]
fn protobuf_spans_with_genai_usage_become_records() {
    let req = request(vec![span(1, genai()), span(2, vec![s("http.method", "GET")])]);
    let p = parse(Format::OtlpProto, &req.encode_to_vec(), 0);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    assert_eq!((p.records.len(), p.ignored), (1, 1));
    let r = &p.records[0];
    // OTel's input includes cached tokens: uncached is what is left.
    assert_eq!(
        (r.usage.input, r.usage.cached_read, r.usage.cache_write, r.usage.uncached_input()),
        (1500, 1000, 200, 300)
    );
    assert_eq!((r.model.as_str(), r.provider.as_deref()), ("claude-sonnet-4-5", Some("anthropic")));
    assert_eq!((r.source.as_str(), r.facts.user.as_deref()), ("support-bot", Some("ivan.petrov")));
    assert_eq!(r.latency_ms, 900);
    assert_eq!(r.id, format!("{}-{}", "ab".repeat(16), "01".repeat(8)));
    assert!(r.facts.attribute("gen_ai.prompt").is_none(), "content is not kept");
    assert_eq!(r.facts.attribute("service.name"), Some("support-bot"));
}

#[test]
fn json_and_protobuf_read_the_same_span_alike() {
    let req = request(vec![span(1, genai())]);
    let j = json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "support-bot"}},
            {"key": "user.id", "value": {"stringValue": "ivan.petrov"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
            "traceId": "AB".repeat(16), "spanId": "01".repeat(8), "name": "chat", "kind": 3,
            "startTimeUnixNano": "1793700000000000000", "endTimeUnixNano": 1_793_700_000_900_000_000u64,
            "attributes": [
                {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}},
                {"key": "gen_ai.provider.name", "value": {"stringValue": "anthropic"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1500"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 400}},
                {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "1000"}},
                {"key": "gen_ai.usage.cache_creation.input_tokens", "value": {"intValue": "200"}},
                {"key": "gen_ai.prompt", "value": {"stringValue": "the prompt's text is never copied"}}],
            "status": {"code": 1}}]}]}]});
    let a = parse(Format::OtlpProto, &req.encode_to_vec(), 0);
    let b = parse(Format::OtlpJson, j.to_string().as_bytes(), 0);
    assert!(b.rejected.is_empty(), "{:?}", b.rejected);
    assert_eq!(a.records, b.records);
    assert_eq!(a.records[0].ledger_id(), b.records[0].ledger_id());
}

#[test]
fn aliases_of_older_instrumentations_are_read() {
    let attrs = vec![
        s("gen_ai.system", "openai"),
        s("gen_ai.response.model", "gpt-4.1-mini"),
        int("gen_ai.usage.prompt_tokens", 900),
        int("gen_ai.usage.completion_tokens", 100),
        int("gen_ai.usage.input_tokens.cached", 500),
        int("gen_ai.usage.reasoning_tokens", 40),
    ];
    let p = parse(Format::OtlpProto, &request(vec![span(1, attrs)]).encode_to_vec(), 0);
    let r = &p.records[0];
    assert_eq!((r.usage.input, r.usage.cached_read, r.usage.output, r.usage.reasoning), (900, 500, 100, 40));
    assert_eq!(r.provider.as_deref(), Some("openai"));
    let llm = vec![
        s("llm.request.model", "gpt-4.1"),
        int("llm.usage.prompt_tokens", 10),
        int("llm.usage.completion_tokens", 5),
    ];
    let p = parse(Format::OtlpProto, &request(vec![span(1, llm)]).encode_to_vec(), 0);
    assert_eq!((p.records[0].usage.input, p.records[0].model.as_str()), (10, "gpt-4.1"));
}

#[test]
fn bad_spans_are_rejected_by_position_and_garbage_is_one_rejection() {
    let no_model = vec![int("gen_ai.usage.input_tokens", 10)];
    let bad_count = vec![s("gen_ai.request.model", "m"), s("gen_ai.usage.input_tokens", "lots")];
    let req = request(vec![span(1, genai()), span(2, no_model), span(3, bad_count)]);
    let p = parse(Format::OtlpProto, &req.encode_to_vec(), 0);
    assert_eq!(p.records.len(), 1);
    let at: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(at, vec![2, 3]);
    assert!(p.rejected[0].reason.contains("no `gen_ai.response.model`"));
    assert!(p.rejected[1].reason.contains("not a token count"));
    let garbage = parse(Format::OtlpProto, b"\xff\xff\xff", 0);
    assert_eq!((garbage.records.len(), garbage.rejected.len()), (0, 1));
}

#[test]
fn a_file_of_requests_one_per_line_numbers_spans_by_line() {
    let line = |id: &str| {
        json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{
            "traceId": "01".repeat(16), "spanId": id, "startTimeUnixNano": "1793700000000000000",
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}}]}]}]}]})
        .to_string()
    };
    let input = format!("{}\n{}\n{{\"nope\": 1}}\n", line("0000000000000001"), line(""));
    let p = parse(Format::OtlpJson, input.as_bytes(), 0);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].source, "unknown_service");
    let at: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(at, vec![2, 3]);
}

#[test]
fn the_answer_reports_rejections_as_otlp_says() {
    assert_eq!(response_json(0, ""), json!({}));
    assert_eq!(
        response_json(2, "span 3: no model"),
        json!({"partialSuccess": {"rejectedSpans": "2", "errorMessage": "span 3: no model"}})
    );
    let bytes = response_proto(2, "x");
    let back = proto::ExportTraceServiceResponse::decode(bytes.as_slice()).unwrap();
    assert_eq!(back.partial_success.unwrap().rejected_spans, 2);
    assert!(response_proto(0, "").is_empty());
}
