@0xd1a6f3c1b2e4a702;
# ssmd normalized ticker (market summary), v1. A ``has*`` flag false means "no value".

struct Ticker {
  ts @0 :Int64;
  receivedAt @1 :Int64;
  ticker @2 :Text;
  price @3 :Int64;
  hasPrice @4 :Bool;
  yesBid @5 :Int64;
  hasYesBid @6 :Bool;
  yesAsk @7 :Int64;
  hasYesAsk @8 :Bool;
  yesBidSize @9 :Int64;
  hasYesBidSize @10 :Bool;
  yesAskSize @11 :Int64;
  hasYesAskSize @12 :Bool;
  lastTradeSize @13 :Int64;
  hasLastTradeSize @14 :Bool;
  volume @15 :Int64;
  hasVolume @16 :Bool;
  openInterest @17 :Int64;
  hasOpenInterest @18 :Bool;
  dollarVolume @19 :Int64;
  hasDollarVolume @20 :Bool;
  dollarOpenInterest @21 :Int64;
  hasDollarOpenInterest @22 :Bool;
  sid @23 :UInt32;
  # appended (v1 stays wire compatible: older messages read as absent)
  marketId @24 :Text;
  hasMarketId @25 :Bool;
  clock @26 :Int64;
  hasClock @27 :Bool;
}
