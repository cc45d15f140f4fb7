// SPDY/3.1 session: streams, their buffers and flow control (see spdy.h for the policy).
#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "kubelet/streaming/spdy.h"

namespace skiff::kubelet::streaming::spdy {

namespace {

// How long a writer whose window ran out waits for the first WINDOW_UPDATE before concluding
// the peer does not do flow control (spdystream does not).
constexpr std::chrono::milliseconds kFlowControlProbe{50};

Frame dataFrame(uint32_t id, std::string data, bool fin) {
  Frame f;
  f.type = FrameType::Data;
  f.streamId = id;
  f.data = std::move(data);
  f.flags = fin ? kFlagFin : 0;
  return f;
}

Frame rstFrame(uint32_t id, uint32_t status) {
  Frame f;
  f.type = FrameType::RstStream;
  f.streamId = id;
  f.status = status;
  return f;
}

Frame windowUpdate(uint32_t id, uint32_t delta) {
  Frame f;
  f.type = FrameType::WindowUpdate;
  f.streamId = id;
  f.deltaWindow = delta;
  return f;
}

}  // namespace

// ---------------------------------------------------------------- Stream

size_t Stream::read(char* buf, size_t max) {
  if (max == 0) return 0;
  std::unique_lock lock(session_.mu_);
  session_.cv_.wait(
      lock, [&] { return recvPos_ < recv_.size() || remoteFin_ || reset_ || session_.ended_; });
  if (recvPos_ >= recv_.size()) return 0;
  size_t n = std::min(max, recv_.size() - recvPos_);
  std::memcpy(buf, recv_.data() + recvPos_, n);
  recvPos_ += n;
  if (recvPos_ == recv_.size()) {
    recv_.clear();
    recvPos_ = 0;
  } else if (recvPos_ > 65536) {
    recv_.erase(0, recvPos_);
    recvPos_ = 0;
  }
  lock.unlock();
  session_.consumed(*this, n);
  return n;
}

std::string Stream::readAll(size_t limit) {
  std::string out;
  char buf[16384];
  for (;;) {
    size_t n = read(buf, sizeof(buf));
    if (n == 0) break;
    if (out.size() < limit) out.append(buf, std::min(n, limit - out.size()));
  }
  return out;
}

void Stream::write(std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    size_t chunk = std::min(data.size() - off, Session::kMaxDataFrame);
    {
      std::unique_lock lock(session_.mu_);
      auto stop = [&] { return reset_ || localFin_ || session_.ended_; };
      auto window = [&] {
        return session_.peerSessionFlowControl_ ? std::min(sendWindow_, session_.sessionSendWindow_)
                                                : sendWindow_;
      };
      auto enforce = [&] { return session_.peerFlowControl_ || !session_.assumeNoFlowControl_; };
      if (!stop() && window() <= 0 && enforce()) {
        if (session_.peerFlowControl_) {
          session_.cv_.wait(lock, [&] { return stop() || window() > 0; });
        } else if (!session_.cv_.wait_for(lock, kFlowControlProbe,
                                          [&] { return stop() || window() > 0; })) {
          if (!session_.peerFlowControl_) {
            session_.assumeNoFlowControl_ = true;
            SKIFF_LOG_DEBUG("spdy: peer sends no WINDOW_UPDATE; not enforcing its windows");
          }
        }
      }
      if (reset_) throw std::runtime_error("spdy: write on a reset stream");
      if (localFin_) throw std::runtime_error("spdy: write after close");
      if (session_.ended_) throw std::runtime_error("spdy: session closed");
      if (enforce() && window() > 0) chunk = std::min<size_t>(chunk, static_cast<size_t>(window()));
      sendWindow_ -= static_cast<int64_t>(chunk);
      session_.sessionSendWindow_ -= static_cast<int64_t>(chunk);
    }
    session_.writeFrame(dataFrame(id_, std::string(data.substr(off, chunk)), false));
    off += chunk;
  }
}

void Stream::closeWrite() {
  {
    std::lock_guard lock(session_.mu_);
    if (localFin_ || reset_ || session_.ended_) return;
    localFin_ = true;
    if (remoteFin_) session_.streams_.erase(id_);
  }
  session_.tryWriteFrame(dataFrame(id_, {}, true));
}

void Stream::reset(uint32_t status) {
  {
    std::lock_guard lock(session_.mu_);
    if (reset_) return;
    reset_ = true;
    bool bothDone = localFin_ && remoteFin_;
    localFin_ = true;
    remoteFin_ = true;
    session_.streams_.erase(id_);
    session_.cv_.notify_all();
    if (bothDone || session_.ended_) return;  // nothing left to cancel
  }
  session_.tryWriteFrame(rstFrame(id_, status));
}

bool Stream::waitReply(std::chrono::milliseconds timeout) {
  std::unique_lock lock(session_.mu_);
  session_.cv_.wait_for(lock, timeout, [&] { return replied_ || reset_ || session_.ended_; });
  // A reset after the reply (a command that was over at once) still counts as answered.
  return replied_;
}

void Stream::sendReply(const Headers& headers) {
  Frame f;
  {
    std::lock_guard lock(session_.mu_);
    if (replied_ || reset_ || session_.ended_) return;
    replied_ = true;
    f.flags = localFin_ ? kFlagFin : 0;
  }
  f.type = FrameType::SynReply;
  f.streamId = id_;
  f.headers = headers;
  session_.tryWriteFrame(f);
}

bool Stream::wasReset() const {
  std::lock_guard lock(session_.mu_);
  return reset_;
}

// ---------------------------------------------------------------- Session

Session::Session(UpgradedConnectionPtr conn, Role role)
    : conn_(std::move(conn)), role_(role), nextStreamId_(role == Role::Client ? 1 : 2) {}

Session::~Session() { join(); }

void Session::start(std::function<void(StreamPtr)> onStream) {
  reader_ = std::thread([this, cb = std::move(onStream)] { readLoop(cb); });
}

void Session::writeFrame(const Frame& f) {
  std::lock_guard lock(writeMu_);
  std::string bytes = framer_.encode(f);
  conn_->write(bytes.data(), bytes.size());
}

bool Session::tryWriteFrame(const Frame& f) noexcept {
  try {
    writeFrame(f);
    return true;
  } catch (const std::exception& e) {
    SKIFF_LOG_DEBUG("spdy: write failed type={} stream={} error=\"{}\"", static_cast<int>(f.type),
                    f.streamId, e.what());
    return false;
  }
}

StreamPtr Session::open(const Headers& headers, bool fin) {
  // The write lock is held from choosing the id to writing the SYN_STREAM: ids must appear on
  // the wire in increasing order, and header blocks in compression order.
  std::lock_guard wlock(writeMu_);
  StreamPtr s;
  {
    std::lock_guard lock(mu_);
    if (ended_) throw std::runtime_error("spdy: session closed");
    if (peerGoneAway_) throw std::runtime_error("spdy: peer sent GOAWAY");
    uint32_t id = nextStreamId_;
    nextStreamId_ += 2;
    s = StreamPtr(new Stream(*this, id, headers));
    s->localFin_ = fin;
    s->sendWindow_ = initialSendWindow_;
    streams_[id] = s;
  }
  Frame f;
  f.type = FrameType::SynStream;
  f.streamId = s->id();
  f.headers = headers;
  f.flags = fin ? kFlagFin : 0;
  std::string bytes = framer_.encode(f);
  conn_->write(bytes.data(), bytes.size());
  return s;
}

void Session::goAway(uint32_t status) {
  Frame f;
  {
    std::lock_guard lock(mu_);
    if (goneAway_ || ended_) return;
    goneAway_ = true;
    f.lastGoodStreamId = lastPeerStreamId_;
  }
  f.type = FrameType::GoAway;
  f.status = status;
  tryWriteFrame(f);
}

void Session::close() {
  if (closing_.exchange(true)) return;
  try {
    conn_->close();
  } catch (const std::exception&) {
  }
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    endAll();
  }
  cv_.notify_all();
}

void Session::join() {
  close();
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
}

bool Session::waitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return ended_; });
}

bool Session::closed() const {
  std::lock_guard lock(mu_);
  return ended_;
}

void Session::endAll() {
  for (auto& [id, s] : streams_) s->remoteFin_ = true;
  streams_.clear();
}

StreamPtr Session::find(uint32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

void Session::consumed(Stream& s, size_t n) {
  std::vector<Frame> updates;
  {
    std::lock_guard lock(mu_);
    cv_.notify_all();  // a reader held back by a full buffer may go on
    if (ended_) return;
    if (!s.remoteFin_ && !s.reset_) {
      s.unacked_ += static_cast<uint32_t>(n);
      if (s.unacked_ >= kInitialWindow / 2) {
        updates.push_back(windowUpdate(s.id_, s.unacked_));
        s.unacked_ = 0;
      }
    }
    sessionUnacked_ += static_cast<uint32_t>(n);
    if (sessionUnacked_ >= kInitialWindow / 2) {
      updates.push_back(windowUpdate(0, sessionUnacked_));
      sessionUnacked_ = 0;
    }
  }
  for (auto& f : updates) tryWriteFrame(f);
}

void Session::readLoop(std::function<void(StreamPtr)> onStream) {
  std::string error;
  char buf[32768];
  try {
    for (;;) {
      size_t n = conn_->read(buf, sizeof(buf));
      if (n == 0) break;
      framer_.feed(buf, n);
      while (auto f = framer_.next()) handle(*f, onStream);
    }
  } catch (const SpdyError& e) {
    error = e.what();
    Frame g;
    g.type = FrameType::GoAway;
    g.status = 1;  // protocol error
    tryWriteFrame(g);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty() && !closing_) SKIFF_LOG_DEBUG("spdy: session ended error=\"{}\"", error);
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    endAll();
  }
  cv_.notify_all();
}

void Session::handle(Frame& f, const std::function<void(StreamPtr)>& onStream) {
  switch (f.type) {
    case FrameType::Data: {
      std::unique_lock lock(mu_);
      StreamPtr s = find(f.streamId);
      if (!s || s->reset_ || s->remoteFin_) return;  // gone: dropped, as spdystream does
      if (!f.data.empty()) s->recv_ += f.data;
      if (f.fin()) {
        s->remoteFin_ = true;
        if (s->localFin_) streams_.erase(s->id_);
      }
      cv_.notify_all();
      // Backpressure for peers that ignore our window: stop reading the connection until the
      // stream's reader catches up.
      cv_.wait(lock, [&] {
        return s->recv_.size() - s->recvPos_ <= kMaxBuffered || s->reset_ || ended_;
      });
      return;
    }
    case FrameType::SynStream: {
      StreamPtr s;
      uint32_t refuse = 0;
      {
        std::lock_guard lock(mu_);
        const bool peerParity = (f.streamId % 2 == 1) == (role_ == Role::Server);
        if (!peerParity || f.streamId <= lastPeerStreamId_) {
          refuse = kProtocolError;
        } else if (goneAway_) {
          lastPeerStreamId_ = f.streamId;
          refuse = kRefusedStream;
        } else {
          lastPeerStreamId_ = f.streamId;
          s = StreamPtr(new Stream(*this, f.streamId, std::move(f.headers)));
          s->remoteFin_ = f.fin();
          s->localFin_ = (f.flags & kFlagUnidirectional) != 0;
          s->sendWindow_ = initialSendWindow_;
          streams_[f.streamId] = s;
        }
      }
      if (refuse) {
        tryWriteFrame(rstFrame(f.streamId, refuse));
        return;
      }
      if (onStream)
        onStream(s);
      else
        s->reset(kRefusedStream);
      return;
    }
    case FrameType::SynReply: {
      std::lock_guard lock(mu_);
      if (StreamPtr s = find(f.streamId)) {
        s->replied_ = true;
        if (f.fin()) s->remoteFin_ = true;
      }
      cv_.notify_all();
      return;
    }
    case FrameType::RstStream: {
      std::lock_guard lock(mu_);
      if (StreamPtr s = find(f.streamId)) {
        s->reset_ = true;
        s->remoteFin_ = true;
        s->localFin_ = true;
        streams_.erase(f.streamId);
      }
      cv_.notify_all();
      return;
    }
    case FrameType::Settings: {
      std::lock_guard lock(mu_);
      for (const auto& st : f.settings) {
        if (st.id != kSettingsInitialWindowSize) continue;
        int64_t delta = static_cast<int64_t>(st.value) - initialSendWindow_;
        initialSendWindow_ = st.value;
        for (auto& [id, s] : streams_) s->sendWindow_ += delta;
        peerFlowControl_ = true;
      }
      cv_.notify_all();
      return;
    }
    case FrameType::Ping: {
      // Ids of pings we start have our parity (clients odd); the peer's we echo.
      const bool ours = (f.pingId % 2 == 1) == (role_ == Role::Client);
      if (!ours) tryWriteFrame(f);
      return;
    }
    case FrameType::GoAway: {
      std::lock_guard lock(mu_);
      peerGoneAway_ = true;
      cv_.notify_all();
      return;
    }
    case FrameType::Headers: {
      std::lock_guard lock(mu_);
      if (StreamPtr s = find(f.streamId); s && f.fin()) {
        s->remoteFin_ = true;
        if (s->localFin_) streams_.erase(s->id_);
      }
      cv_.notify_all();
      return;
    }
    case FrameType::WindowUpdate: {
      std::lock_guard lock(mu_);
      peerFlowControl_ = true;
      if (f.streamId == 0) {
        peerSessionFlowControl_ = true;
        sessionSendWindow_ += f.deltaWindow;
      } else if (StreamPtr s = find(f.streamId)) {
        s->sendWindow_ += f.deltaWindow;
      }
      cv_.notify_all();
      return;
    }
  }
}

}  // namespace skiff::kubelet::streaming::spdy
