#include "luna/images/file_download.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <memory>

#include "common/crypto/sha256.hpp"

namespace harmony::luna {
namespace {

struct Sink {
  std::FILE* file = nullptr;
  crypto::Sha256 hash;
};

size_t write_chunk(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * count;
  sink->hash.update(std::string_view(data, bytes));
  return std::fwrite(data, 1, bytes, sink->file);
}

}  // namespace

std::string download_file(const std::string& url, const std::string& bearer_token,
                          const std::filesystem::path& destination) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw DownloadError("libcurl cannot start");
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(destination.c_str(), "wb"), std::fclose);
  if (!file) throw DownloadError("cannot write " + destination.string());
  Sink sink;
  sink.file = file.get();
  curl_slist* headers = nullptr;
  if (!bearer_token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + bearer_token).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_chunk);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  // Root images are large: no overall timeout, but a stalled transfer is cut.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  const auto code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    throw DownloadError(url + ": " + (error[0] != '\0' ? std::string(error) : curl_easy_strerror(code)));
  }
  if (std::fflush(file.get()) != 0) throw DownloadError("cannot write " + destination.string());
  return sink.hash.final_hex();
}

}  // namespace harmony::luna
