#include "twilight/lib/http_client.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace harmony::twilight {
namespace {

constexpr std::size_t kMaxErrorBody = 4096;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Where the body goes: a file for 2xx answers, a bounded string otherwise.
struct Sink {
  CURL* curl = nullptr;
  std::FILE* file = nullptr;
  std::string* text = nullptr;
  bool write_failed = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& sink = *static_cast<Sink*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(sink.curl, CURLINFO_RESPONSE_CODE, &status);
  if (sink.file != nullptr && status >= 200 && status < 300) {
    if (std::fwrite(data, 1, bytes, sink.file) != bytes) {
      sink.write_failed = true;
      return 0;  // aborts the transfer
    }
    return bytes;
  }
  if (sink.text != nullptr && sink.text->size() < kMaxErrorBody) {
    sink.text->append(data, std::min(bytes, kMaxErrorBody - sink.text->size()));
  }
  return bytes;
}

HttpAnswer perform(const std::string& url, const HttpRequestOptions& options, std::FILE* file,
                   const std::string* put_body) {
  global_init();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw HttpError("cannot create an HTTP handle");
  HttpAnswer answer;
  Sink sink{curl.get(), file, &answer.body, false};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const auto add_header = [&](const std::string& line) {
    auto* list = curl_slist_append(headers.get(), line.c_str());
    if (list == nullptr) throw HttpError("out of memory for HTTP headers");
    (void)headers.release();
    headers.reset(list);
  };
  if (!options.bearer_token.empty()) add_header("Authorization: Bearer " + options.bearer_token);
  for (const auto& [name, value] : options.headers) add_header(name + ": " + value);
  if (put_body != nullptr) add_header("Content-Type: application/octet-stream");
  // Expect: 100-continue costs a round trip per console tail for nothing.
  add_header("Expect:");

  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(options.timeout.count()));
  // Without a total timeout, a transfer slower than 1 KiB/s for a minute is cut.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  if (put_body != nullptr) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, put_body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(put_body->size()));
  }
  const CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
  if (sink.write_failed) throw HttpError("cannot write the body of " + url);
  if (code != CURLE_OK) throw HttpError(std::string(curl_easy_strerror(code)) + " (" + url + ")");
  return answer;
}

}  // namespace

HttpAnswer http_download_file(const std::string& url, const std::filesystem::path& destination,
                              const HttpRequestOptions& options) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(destination.c_str(), "wb"), &std::fclose);
  if (!file) throw HttpError("cannot write " + destination.string());
  auto answer = perform(url, options, file.get(), nullptr);
  if (std::fflush(file.get()) != 0) throw HttpError("cannot write " + destination.string());
  return answer;
}

HttpAnswer http_put(const std::string& url, std::string_view body, const HttpRequestOptions& options) {
  const std::string copy(body);
  return perform(url, options, nullptr, &copy);
}

}  // namespace harmony::twilight
