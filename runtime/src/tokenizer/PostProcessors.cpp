//===- PostProcessors.cpp - Special tokens around encoded sequences -------===//
//
// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and Sequence.
//
//===----------------------------------------------------------------------===//
#include "Components.h"

#include <map>

namespace kiln::rt::tok {

namespace {
void setSequence(Encoding &e, int seq, std::optional<uint32_t> typeId) {
  e.sequenceIds.assign(e.size(), seq);
  if (typeId)
    e.typeIds.assign(e.size(), *typeId);
}

void append(Encoding &to, const Encoding &from) {
  to.ids.insert(to.ids.end(), from.ids.begin(), from.ids.end());
  to.typeIds.insert(to.typeIds.end(), from.typeIds.begin(), from.typeIds.end());
  to.tokens.insert(to.tokens.end(), from.tokens.begin(), from.tokens.end());
  to.offsets.insert(to.offsets.end(), from.offsets.begin(), from.offsets.end());
  to.specialTokensMask.insert(to.specialTokensMask.end(), from.specialTokensMask.begin(),
                              from.specialTokensMask.end());
  to.attentionMask.insert(to.attentionMask.end(), from.attentionMask.begin(),
                          from.attentionMask.end());
  to.sequenceIds.insert(to.sequenceIds.end(), from.sequenceIds.begin(), from.sequenceIds.end());
}

void appendSpecial(Encoding &to, const std::vector<uint32_t> &ids,
                   const std::vector<std::string> &tokens, uint32_t typeId) {
  for (size_t k = 0; k < ids.size(); ++k) {
    to.ids.push_back(ids[k]);
    to.typeIds.push_back(typeId);
    to.tokens.push_back(tokens[k]);
    to.offsets.push_back({0, 0});
    to.specialTokensMask.push_back(1);
    to.attentionMask.push_back(1);
    to.sequenceIds.push_back(-1);
  }
}

struct SpecialToken {
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;
};

/// [CLS] A [SEP] (B [SEP]) with a configurable layout.
class Template : public PostProcessor {
public:
  struct Item {
    bool isSequence;
    int sequence;     ///< 0 for A, 1 for B
    std::string name; ///< special token name
    uint32_t typeId;
  };

  Template(std::vector<Item> single, std::vector<Item> pair,
           std::map<std::string, SpecialToken> specials)
      : Single(std::move(single)), Pair(std::move(pair)), Specials(std::move(specials)) {}

  size_t addedTokens(bool pair) const override {
    size_t n = 0;
    for (const Item &i : pair ? Pair : Single)
      if (!i.isSequence)
        n += Specials.at(i.name).ids.size();
    return n;
  }

  Encoding process(Encoding a, Encoding *b, bool addSpecial) const override {
    Encoding out;
    Encoding *seqs[2] = {&a, b};
    for (const Item &i : b ? Pair : Single) {
      if (i.isSequence) {
        Encoding &e = *seqs[i.sequence];
        setSequence(e, i.sequence, i.typeId);
        append(out, e);
      } else if (addSpecial) {
        const SpecialToken &s = Specials.at(i.name);
        appendSpecial(out, s.ids, s.tokens, i.typeId);
      }
    }
    return out;
  }

private:
  std::vector<Item> Single, Pair;
  std::map<std::string, SpecialToken> Specials;
};

/// BertProcessing ([CLS] A [SEP] B [SEP], B typed 1) and RobertaProcessing
/// (<s> A </s> </s> B </s>, all typed 0).
class BertLike : public PostProcessor {
public:
  BertLike(bool roberta, std::pair<std::string, uint32_t> cls, std::pair<std::string, uint32_t> sep)
      : Roberta(roberta), Cls(std::move(cls)), Sep(std::move(sep)) {}
  size_t addedTokens(bool pair) const override { return pair ? (Roberta ? 4 : 3) : 2; }
  Encoding process(Encoding a, Encoding *b, bool addSpecial) const override {
    setSequence(a, 0, std::nullopt);
    if (b)
      setSequence(*b, 1, std::nullopt);
    if (!addSpecial)
      return mergeEncodings(std::move(a), b);
    Encoding out;
    appendSpecial(out, {Cls.second}, {Cls.first}, 0);
    a.typeIds.assign(a.size(), 0);
    append(out, a);
    appendSpecial(out, {Sep.second}, {Sep.first}, 0);
    if (b) {
      uint32_t t = Roberta ? 0 : 1;
      if (Roberta)
        appendSpecial(out, {Sep.second}, {Sep.first}, 0);
      b->typeIds.assign(b->size(), t);
      append(out, *b);
      appendSpecial(out, {Sep.second}, {Sep.first}, t);
    }
    return out;
  }

private:
  bool Roberta;
  std::pair<std::string, uint32_t> Cls, Sep;
};

/// ByteLevel only trims offsets in Hugging Face; ids are unchanged.
class Passthrough : public PostProcessor {
public:
  size_t addedTokens(bool) const override { return 0; }
  Encoding process(Encoding a, Encoding *b, bool) const override {
    return mergeEncodings(std::move(a), b);
  }
};

class Sequence : public PostProcessor {
public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> items) : Items(std::move(items)) {}
  size_t addedTokens(bool pair) const override {
    size_t n = 0;
    for (const auto &p : Items)
      n += p->addedTokens(pair);
    return n;
  }
  Encoding process(Encoding a, Encoding *b, bool addSpecial) const override {
    // The processor that adds special tokens shapes the result; the others (ByteLevel) only
    // trim offsets in Hugging Face, which Kiln does not do.
    for (const auto &p : Items)
      if (p->addedTokens(b != nullptr))
        return p->process(std::move(a), b, addSpecial);
    if (!Items.empty())
      return Items.back()->process(std::move(a), b, addSpecial);
    return mergeEncodings(std::move(a), b);
  }

private:
  std::vector<std::unique_ptr<PostProcessor>> Items;
};

std::pair<std::string, uint32_t> readPair(const Json &j, const char *key, const char *where) {
  const Json &p = field(j, key, where);
  if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_number_unsigned())
    throw ConfigError(std::string(where) + ": '" + key + "' must be [token, id]");
  return {p[0].get<std::string>(), p[1].get<uint32_t>()};
}

std::vector<Template::Item> readTemplate(const Json &j, const char *which) {
  std::vector<Template::Item> items;
  const Json &t = field(j, which, "TemplateProcessing");
  if (!t.is_array())
    throw ConfigError(std::string("TemplateProcessing: '") + which + "' must be an array");
  for (const Json &i : t) {
    if (i.contains("Sequence")) {
      const Json &s = i["Sequence"];
      std::string id = getString(s, "id", "TemplateProcessing sequence");
      if (id != "A" && id != "B")
        throw ConfigError("TemplateProcessing: sequence id must be A or B, not '" + id + "'");
      items.push_back({true, id == "B", "", s.value("type_id", 0u)});
    } else if (i.contains("SpecialToken")) {
      const Json &s = i["SpecialToken"];
      items.push_back({false, 0, getString(s, "id", "TemplateProcessing special token"),
                       s.value("type_id", 0u)});
    } else {
      throw ConfigError("TemplateProcessing: template items are Sequence or SpecialToken");
    }
  }
  return items;
}
} // namespace

Encoding mergeEncodings(Encoding a, Encoding *b) {
  if (!b)
    return a;
  setSequence(a, 0, std::nullopt);
  setSequence(*b, 1, std::nullopt);
  append(a, *b);
  return a;
}

std::unique_ptr<PostProcessor> makePostProcessor(const Json &j) {
  if (j.is_null())
    return nullptr;
  if (!j.is_object())
    throw ConfigError("post_processor must be an object");
  std::string type = getString(j, "type", "post_processor");
  if (type == "TemplateProcessing") {
    std::map<std::string, SpecialToken> specials;
    const Json &st = field(j, "special_tokens", "TemplateProcessing");
    for (auto it = st.begin(); it != st.end(); ++it) {
      SpecialToken s;
      const Json &v = it.value();
      if (!v.contains("ids") || !v.contains("tokens") || !v["ids"].is_array() ||
          !v["tokens"].is_array() || v["ids"].size() != v["tokens"].size())
        throw ConfigError("TemplateProcessing: special token '" + it.key() +
                          "' needs 'ids' and 'tokens' of the same length");
      for (const Json &id : v["ids"]) {
        if (!id.is_number_unsigned())
          throw ConfigError("TemplateProcessing: special token '" + it.key() + "' has a bad id");
        s.ids.push_back(id.get<uint32_t>());
      }
      for (const Json &t : v["tokens"])
        s.tokens.push_back(t.get<std::string>());
      specials[it.key()] = std::move(s);
    }
    auto single = readTemplate(j, "single");
    auto pair = readTemplate(j, "pair");
    for (const auto *list : {&single, &pair})
      for (const auto &i : *list)
        if (!i.isSequence && !specials.count(i.name))
          throw ConfigError("TemplateProcessing: template uses '" + i.name +
                            "', which is not in special_tokens");
    return std::make_unique<Template>(std::move(single), std::move(pair), std::move(specials));
  }
  if (type == "BertProcessing")
    return std::make_unique<BertLike>(false, readPair(j, "cls", "BertProcessing"),
                                      readPair(j, "sep", "BertProcessing"));
  if (type == "RobertaProcessing")
    return std::make_unique<BertLike>(true, readPair(j, "cls", "RobertaProcessing"),
                                      readPair(j, "sep", "RobertaProcessing"));
  if (type == "ByteLevel")
    return std::make_unique<Passthrough>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> list;
    for (const Json &p : field(j, "processors", "Sequence post-processor"))
      if (auto made = makePostProcessor(p))
        list.push_back(std::move(made));
    return std::make_unique<Sequence>(std::move(list));
  }
  throw ConfigError("unsupported post_processor type '" + type + "'");
}

} // namespace kiln::rt::tok
