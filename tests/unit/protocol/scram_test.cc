#include "protocol/scram.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::protocol {

// Lets tests put a username into client-first, as the RFC 7677 example does.
class ScramClientTestPeer {
 public:
  static void set_user(ScramClient& client, std::string user) { client.user_ = std::move(user); }
};

namespace {

// RFC 7677 section 3.
constexpr char kRfcClientNonce[] = "rOprNGfwEbeRWgbNEkqO";
constexpr char kRfcServerNonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr char kRfcClientFirst[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr char kRfcServerFirst[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr char kRfcClientFinal[] =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr char kRfcServerFinal[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
// StoredKey and ServerKey for "pencil", computed independently with Python's hashlib.
constexpr char kRfcSecret[] =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

ScramSecret rfc_secret() {
  std::optional<ScramSecret> secret = ScramSecret::parse(kRfcSecret);
  EXPECT_TRUE(secret.has_value());
  return secret.value_or(ScramSecret{});
}

TEST(ScramSecretTest, FromPasswordMatchesRfcVector) {
  const ScramSecret secret = ScramSecret::from_password("pencil", rfc_secret().salt, 4096);
  EXPECT_EQ(secret.to_string(), kRfcSecret);
}

TEST(ScramSecretTest, ParseToStringRoundTrip) {
  std::optional<ScramSecret> secret = ScramSecret::parse(kRfcSecret);
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ(secret->iterations, 4096);
  EXPECT_EQ(secret->salt.size(), 16u);
  EXPECT_EQ(secret->to_string(), kRfcSecret);

  const ScramSecret made = ScramSecret::from_password("hunter2", "0123456789abcdef", 100);
  std::optional<ScramSecret> reparsed = ScramSecret::parse(made.to_string());
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_EQ(reparsed->iterations, 100);
  EXPECT_EQ(reparsed->salt, made.salt);
  EXPECT_EQ(reparsed->stored_key, made.stored_key);
  EXPECT_EQ(reparsed->server_key, made.server_key);
}

TEST(ScramSecretTest, ParseRejectsGarbage) {
  const std::string good = kRfcSecret;
  const std::vector<std::string> bad = {
      "",
      "md553f48b7c4b76a86ce72276c5755f217d",
      "SCRAM-SHA-256",
      "SCRAM-SHA-256$",
      "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$a:b",
      "scram-sha-256" + good.substr(13),
      good.substr(0, good.size() - 1),                               // truncated key
      good + "AAAA",                                                 // key too long
      good + "=",                                                    // bad base64
      "SCRAM-SHA-256$0" + good.substr(18),                           // zero iterations
      "SCRAM-SHA-256$-4096" + good.substr(18),                       // negative iterations
      "SCRAM-SHA-256$+4096" + good.substr(18),                       // sign
      "SCRAM-SHA-256$ 4096" + good.substr(18),                       // space
      "SCRAM-SHA-256$4096x" + good.substr(18),                       // trailing junk
      "SCRAM-SHA-256$99999999999" + good.substr(18),                 // overflows int
      "SCRAM-SHA-256$4096:$" + good.substr(good.find('$', 15) + 1),  // empty salt
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$" + good.substr(good.find('$', 15) + 1),
      "SCRAM-SHA-256$4096:W22Z aJ0SNY7soEsUEjb6gQ=$" + good.substr(good.find('$', 15) + 1),
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" +
          good.substr(good.find('$', 15) + 1, 44),  // no server key
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(ScramSecret::parse(text).has_value()) << text;
  }
  EXPECT_FALSE(ScramSecret::parse(std::string("SCRAM-SHA-256\0$4096", 19)).has_value());
}

TEST(ScramServerTest, Rfc7677Vector) {
  ScramServer server(rfc_secret(), kRfcServerNonce);
  const ScramStep first = server.on_client_first(kRfcClientFirst);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.message, kRfcServerFirst);
  const ScramStep final = server.on_client_final(kRfcClientFinal);
  ASSERT_TRUE(final.ok) << final.error;
  EXPECT_EQ(final.message, kRfcServerFinal);
  ASSERT_TRUE(server.client_key().has_value());
}

TEST(ScramClientTest, Rfc7677Vector) {
  ScramClient client = ScramClient::with_password("pencil", kRfcClientNonce);
  ScramClientTestPeer::set_user(client, "user");
  EXPECT_EQ(client.client_first(), kRfcClientFirst);
  const ScramStep final = client.on_server_first(kRfcServerFirst);
  ASSERT_TRUE(final.ok) << final.error;
  EXPECT_EQ(final.message, kRfcClientFinal);
  const ScramStep done = client.on_server_final(kRfcServerFinal);
  EXPECT_TRUE(done.ok) << done.error;
}

TEST(ScramClientTest, DefaultClientFirstHasEmptyUserAndPrintableNonce) {
  ScramClient client = ScramClient::with_password("pw");
  const std::string first = client.client_first();
  ASSERT_EQ(first.substr(0, 7), "n,,n=,r");
  const std::string nonce = first.substr(first.find("r=") + 2);
  EXPECT_EQ(nonce.size(), 24u);  // 18 random bytes in base64
  for (char c : nonce) {
    EXPECT_TRUE(c >= 0x21 && c <= 0x7E && c != ',') << first;
  }
  EXPECT_NE(ScramClient::with_password("pw").client_first(), first);
}

TEST(ScramTest, PasswordRoundTrip) {
  ScramServer server(ScramSecret::from_password("correct horse", "NaCl-NaCl-NaCl!!", 4096));
  ScramClient client = ScramClient::with_password("correct horse");
  const ScramStep server_first = server.on_client_first(client.client_first());
  ASSERT_TRUE(server_first.ok) << server_first.error;
  const ScramStep client_final = client.on_server_first(server_first.message);
  ASSERT_TRUE(client_final.ok) << client_final.error;
  const ScramStep server_final = server.on_client_final(client_final.message);
  ASSERT_TRUE(server_final.ok) << server_final.error;
  EXPECT_TRUE(client.on_server_final(server_final.message).ok);
}

// How the proxy logs into a server: the ClientKey recovered from the client's login, plus
// the ServerKey from the shared secret, without ever seeing the password.
TEST(ScramTest, KeysRoundTripWithRecoveredClientKey) {
  const ScramSecret secret = ScramSecret::from_password("s3cr3t", "some-salt-bytes", 4096);

  ScramServer proxy_side(secret);
  ScramClient app = ScramClient::with_password("s3cr3t");
  const ScramStep s1 = proxy_side.on_client_first(app.client_first());
  ASSERT_TRUE(s1.ok);
  const ScramStep c1 = app.on_server_first(s1.message);
  ASSERT_TRUE(c1.ok);
  ASSERT_TRUE(proxy_side.on_client_final(c1.message).ok);
  ASSERT_TRUE(proxy_side.client_key().has_value());

  ScramServer backend(secret);
  ScramClient proxy = ScramClient::with_keys(*proxy_side.client_key(), secret.server_key);
  const ScramStep s2 = backend.on_client_first(proxy.client_first());
  ASSERT_TRUE(s2.ok) << s2.error;
  const ScramStep c2 = proxy.on_server_first(s2.message);
  ASSERT_TRUE(c2.ok) << c2.error;
  const ScramStep s3 = backend.on_client_final(c2.message);
  ASSERT_TRUE(s3.ok) << s3.error;
  EXPECT_TRUE(proxy.on_server_final(s3.message).ok);
  EXPECT_EQ(backend.client_key(), proxy_side.client_key());
}

TEST(ScramTest, WrongPasswordRejected) {
  ScramServer server(ScramSecret::from_password("right", "salty", 4096));
  ScramClient client = ScramClient::with_password("wrong");
  const ScramStep server_first = server.on_client_first(client.client_first());
  ASSERT_TRUE(server_first.ok);
  const ScramStep client_final = client.on_server_first(server_first.message);
  ASSERT_TRUE(client_final.ok);
  const ScramStep result = server.on_client_final(client_final.message);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.error.empty());
  EXPECT_FALSE(server.client_key().has_value());
}

TEST(ScramTest, ClientRejectsForgedServerSignature) {
  ScramServer server(ScramSecret::from_password("pw", "salt", 4096));
  ScramClient client = ScramClient::with_password("pw");
  const ScramStep s1 = server.on_client_first(client.client_first());
  ASSERT_TRUE(client.on_server_first(s1.message).ok);
  EXPECT_FALSE(client.on_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").ok);
  EXPECT_FALSE(client.on_server_final("v=").ok);
  EXPECT_FALSE(client.on_server_final("").ok);
  const ScramStep error = client.on_server_final("e=invalid-proof");
  EXPECT_FALSE(error.ok);
  EXPECT_NE(error.error.find("invalid-proof"), std::string::npos);
}

// A "y" client (supports channel binding, thinks we do not) must send c=base64("y,,").
// Exchange computed independently with Python's hashlib for password "pencil".
TEST(ScramServerTest, AcceptsYFlagWithMatchingChannelBinding) {
  const std::string client_final =
      "c=eSws,r=yClientNonceSRV,p=SDs0/HrBUcRkDWCpxzGIyA/e3FRxvgB84gt+sc79GuY=";
  ScramServer server(rfc_secret(), "SRV");
  const ScramStep first = server.on_client_first("y,,n=,r=yClientNonce");
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.message, "r=yClientNonceSRV,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  const ScramStep final = server.on_client_final(client_final);
  ASSERT_TRUE(final.ok) << final.error;
  EXPECT_EQ(final.message, "v=b0Xlxl7crcq89S+S1lQ+FS19/uEjcuC9qiKzETrDD1c=");

  // The same message with the "n" flag's binding is refused.
  ScramServer mismatched(rfc_secret(), "SRV");
  ASSERT_TRUE(mismatched.on_client_first("y,,n=,r=yClientNonce").ok);
  std::string with_biws = client_final;
  with_biws.replace(0, 6, "c=biws");
  EXPECT_FALSE(mismatched.on_client_final(with_biws).ok);
}

TEST(ScramServerTest, RejectsChannelBindingAndAuthzid) {
  ScramServer server(rfc_secret());
  const ScramStep step = server.on_client_first("p=tls-server-end-point,,n=,r=abc");
  EXPECT_FALSE(step.ok);
  EXPECT_NE(step.error.find("channel binding"), std::string::npos);
  EXPECT_FALSE(ScramServer(rfc_secret()).on_client_first("n,a=admin,n=,r=abc").ok);
  EXPECT_FALSE(ScramServer(rfc_secret()).on_client_first("n,,m=ext,n=,r=abc").ok);
}

TEST(ScramServerTest, MalformedClientFirstRejected) {
  const std::vector<std::string> bad = {
      "",
      "n",
      "n,",
      "n,,",
      "x,,n=,r=abc",
      "nn,,n=,r=abc",
      "n,,n=",
      "n,,n=,",
      "n,,n=,r=",
      "n,,r=abc",
      "n,,n=,x=abc",
      "n,,n=,r=a,bc",
      "n,,n=,r=ab c",
      "n,,n=,r=abc,",
      "n,,n=,r=abc,=x",
      std::string("n,,n=,r=a\0c", 11),
      "n,,n=,r=\x7f\x80",
  };
  for (const std::string& msg : bad) {
    ScramServer server(rfc_secret());
    const ScramStep step = server.on_client_first(msg);
    EXPECT_FALSE(step.ok) << msg;
    EXPECT_FALSE(step.error.empty()) << msg;
  }
  // Extensions after the nonce are allowed, as in PostgreSQL.
  EXPECT_TRUE(ScramServer(rfc_secret()).on_client_first("n,,n=bob,r=abc,x=ext").ok);
}

TEST(ScramServerTest, MalformedClientFinalRejected) {
  ScramServer probe(rfc_secret(), "SRV");
  const std::string server_first = probe.on_client_first("n,,n=,r=abc").message;
  ASSERT_EQ(server_first.substr(0, 10), "r=abcSRV,s");
  const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::vector<std::string> bad = {
      "",
      ",,,",
      "c=biws",
      "c=biws,r=abcSRV",
      "c=biws,r=abcSRV," + proof + ",x=1",  // proof must be last
      "c=biws,r=abcSRV,p=",
      "c=biws,r=abcSRV,p=!!!!",
      "c=biws,r=abcSRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",  // truncated
      "c=biws,r=abcSRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=AAAA",
      "c=biws,r=abcSRV,p=dHzb",    // too short a proof
      "c=biws,r=abcSRX," + proof,  // wrong nonce
      "c=biws,r=abc," + proof,     // client nonce only
      "c=eSws,r=abcSRV," + proof,  // wrong channel binding
      "c=,r=abcSRV," + proof,
      "r=abcSRV,c=biws," + proof,
      "c=biws,r=abcSRV,1," + proof,
      "c=biws,r=abcSRV," + proof,  // well-formed but wrong proof
  };
  for (const std::string& msg : bad) {
    ScramServer server(rfc_secret(), "SRV");
    ASSERT_TRUE(server.on_client_first("n,,n=,r=abc").ok);
    const ScramStep step = server.on_client_final(msg);
    EXPECT_FALSE(step.ok) << msg;
    EXPECT_FALSE(step.error.empty()) << msg;
    EXPECT_FALSE(server.client_key().has_value()) << msg;
  }
}

TEST(ScramServerTest, OutOfOrderAndRepeatedStepsRejected) {
  ScramServer fresh(rfc_secret(), kRfcServerNonce);
  EXPECT_FALSE(fresh.on_client_final(kRfcClientFinal).ok);

  ScramServer server(rfc_secret(), kRfcServerNonce);
  ASSERT_TRUE(server.on_client_first(kRfcClientFirst).ok);
  EXPECT_FALSE(server.on_client_first(kRfcClientFirst).ok);

  ScramServer once(rfc_secret(), kRfcServerNonce);
  ASSERT_TRUE(once.on_client_first(kRfcClientFirst).ok);
  EXPECT_FALSE(once.on_client_final("c=biws,r=x,p=AAAA").ok);
  EXPECT_FALSE(once.on_client_final(kRfcClientFinal).ok);  // no second attempt

  EXPECT_FALSE(ScramServer(ScramSecret{}).on_client_first(kRfcClientFirst).ok);
}

TEST(ScramClientTest, MalformedServerFirstRejected) {
  const std::string salt = ",s=W22ZaJ0SNY7soEsUEjb6gQ==";
  const std::vector<std::string> bad = {
      "",
      ",",
      "r=",
      "r=abc",            // server nonce missing
      "r=abcSRV",         // no salt/iterations
      "r=abcSRV" + salt,  // no iterations
      "r=abcSRV" + salt + ",i=",
      "r=abcSRV" + salt + ",i=0",
      "r=abcSRV" + salt + ",i=-1",
      "r=abcSRV" + salt + ",i=+4096",
      "r=abcSRV" + salt + ",i=4096x",
      "r=abcSRV" + salt + ",i=1000001",  // over the cap
      "r=abcSRV" + salt + ",i=2147483647",
      "r=abcSRV" + salt + ",i=99999999999999999999",
      "r=abcSRV" + salt + ",i=4096,x=1",  // trailing garbage
      "r=abcSRV" + salt + ",i=4096,",
      "r=abcSRV,s=,i=4096",          // empty salt
      "r=abcSRV,s=W22Z=aJ0,i=4096",  // bad base64
      "r=abcSRV,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
      "r=xyzSRV" + salt + ",i=4096",  // wrong client nonce
      "r=abSRV" + salt + ",i=4096",
      "r=abc SRV" + salt + ",i=4096",  // unprintable nonce
      "m=ext,r=abcSRV" + salt + ",i=4096",
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=abcSRV,i=4096",
      std::string("r=abcSRV\0", 9) + salt + ",i=4096",
  };
  for (const std::string& msg : bad) {
    ScramClient client = ScramClient::with_password("pencil", "abc");
    client.client_first();
    const ScramStep step = client.on_server_first(msg);
    EXPECT_FALSE(step.ok) << msg;
    EXPECT_FALSE(step.error.empty()) << msg;
  }
  // The cap itself is allowed (tested with with_keys so no PBKDF2 work is done).
  ScramClient client = ScramClient::with_keys(ScramKey{}, ScramKey{}, "abc");
  client.client_first();
  EXPECT_TRUE(client.on_server_first("r=abcSRV" + salt + ",i=1000000").ok);
}

TEST(ScramClientTest, OutOfOrderStepsRejected) {
  ScramClient client = ScramClient::with_password("pencil", kRfcClientNonce);
  EXPECT_FALSE(client.on_server_first(kRfcServerFirst).ok);  // before client_first()
  EXPECT_FALSE(client.on_server_final(kRfcServerFinal).ok);
  client.client_first();
  EXPECT_FALSE(client.on_server_final(kRfcServerFinal).ok);  // before server-first
}

// Cheap fuzzing: random bytes and mutations of valid messages must never crash.
TEST(ScramTest, RandomInputDoesNotCrash) {
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245 + 12345;
    return (state >> 16) & 0x7fff;
  };
  const std::vector<std::string> seeds = {kRfcClientFirst, kRfcServerFirst, kRfcClientFinal,
                                          kRfcServerFinal, kRfcSecret};
  for (int i = 0; i < 2000; ++i) {
    std::string msg = seeds[i % seeds.size()];
    const int mutations = 1 + next() % 4;
    for (int m = 0; m < mutations && !msg.empty(); ++m) {
      const size_t pos = next() % msg.size();
      switch (next() % 3) {
        case 0:
          msg[pos] = static_cast<char>(next() & 0xff);
          break;
        case 1:
          msg.erase(pos, 1 + next() % 8);
          break;
        default:
          msg.insert(pos, 1, ",=$:"[next() % 4]);
          break;
      }
    }
    ScramServer server(rfc_secret(), kRfcServerNonce);
    server.on_client_first(msg);
    server.on_client_final(msg);
    ScramServer server2(rfc_secret(), kRfcServerNonce);
    if (server2.on_client_first(kRfcClientFirst).ok) server2.on_client_final(msg);
    ScramClient client = ScramClient::with_keys(ScramKey{}, ScramKey{}, kRfcClientNonce);
    client.client_first();
    client.on_server_first(msg);
    client.on_server_final(msg);
    ScramSecret::parse(msg);
  }
}

}  // namespace
}  // namespace sluice::protocol
