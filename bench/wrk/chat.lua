-- POST /v1/inbound/chat with a distinct message on every request: session and client message id
-- carry the run id, the wrk thread number and a per-thread counter, so the intake never sees a
-- retry (no dedupe shortcut) and every request becomes a new message downstream.
--
-- Environment: BENCH_TOKEN (integration bearer token), BENCH_RUN (unique per run).
-- At the end prints one line: BENCH_JSON {...} with counts and latency percentiles in µs.
-- bench/loadgen.py builds the same bodies for its Python fallback (keep TEXTS in step).

local run_id = os.getenv("BENCH_RUN") or tostring(os.time())
local token = os.getenv("BENCH_TOKEN") or ""
local threads = {}
local counter = 0

local TEXTS = {
  "I topped up 200 yuan an hour ago but my balance has not changed",
  "my phone was stolen yesterday please freeze my wallet",
  "payment failed but the money was debited from my card",
  "how do I change the phone number bound to my account",
  "我的账户被锁定了，输错了三次密码",
  "提现失败了，钱什么时候退回来？",
  "the app crashes every time I open the scan page",
  "请问积分可以兑换什么？",
}
local LOCALES = { "en", "en", "en", "en", "zh-CN", "zh-CN", "en", "zh-CN" }

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local pick = (counter % #TEXTS) + 1
  local body = string.format(
    '{"session_id":"bench-%s-%d-%d","message_id":"m-%d","customer_id":"bc-%d-%d",'
      .. '"text":"%s","locale":"%s"}',
    run_id, thread_no, counter, counter, thread_no, counter % 5000, TEXTS[pick], LOCALES[pick]
  )
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"status_errors":%d,"timeout_errors":%d,"p50_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean
  ))
end
