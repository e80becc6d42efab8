package sensutest

import (
	"math/rand/v2"
	"strconv"
)

// Sensu Go 7 names keys it was not given a name for with "pet names" made of an
// adverb, an adjective and an animal, all lowercase and run together
// ("surelyworkablemullet" in wire-7.0.0-alpha1.md). The lists hold the words seen in
// the record plus enough others that 1000 keys rarely collide; the real lists are longer.
var (
	petAdverbs = []string{
		"surely", "suddenly", "previously", "adequately", "trivially", "quickly", "gladly",
		"openly", "rarely", "vastly", "widely", "neatly", "kindly", "mostly", "nearly",
		"really", "simply", "truly", "wholly", "largely", "freely", "firmly", "deeply",
		"evenly", "fairly", "gently", "highly", "jointly", "lately", "mainly", "newly",
		"partly", "purely", "safely", "solely", "hardly", "amply", "duly", "early", "only",
	}
	petAdjectives = []string{
		"workable", "first", "touching", "precise", "firm", "able", "brave", "calm", "eager",
		"fancy", "gentle", "happy", "jolly", "keen", "lively", "merry", "noble", "proud",
		"quiet", "rapid", "sharp", "tidy", "vital", "witty", "young", "bold", "clever",
		"daring", "exact", "fluent", "grand", "honest", "ideal", "just", "loved", "modest",
		"neat", "open", "polite", "ready",
	}
	petAnimals = []string{
		"mullet", "grackle", "lemming", "egret", "goshawk", "badger", "beaver", "bison",
		"camel", "crane", "dingo", "eagle", "ferret", "gecko", "heron", "ibis", "jackal",
		"koala", "lemur", "marmot", "newt", "ocelot", "otter", "panda", "quail", "raven",
		"salmon", "tapir", "urchin", "vole", "walrus", "yak", "zebra", "alpaca", "bobcat",
		"cougar", "dolphin", "finch", "gopher", "hornet",
	}
)

// newPetName returns a random pet name; taken reports names already in use. The caller
// holds the store lock.
func newPetName(taken func(string) bool) string {
	for range 64 {
		n := petAdverbs[rand.IntN(len(petAdverbs))] +
			petAdjectives[rand.IntN(len(petAdjectives))] +
			petAnimals[rand.IntN(len(petAnimals))]
		if !taken(n) {
			return n
		}
	}
	// The word space is nearly exhausted; a numeric suffix keeps names unique.
	for {
		n := petAdverbs[rand.IntN(len(petAdverbs))] +
			petAdjectives[rand.IntN(len(petAdjectives))] +
			petAnimals[rand.IntN(len(petAnimals))] + strconv.Itoa(rand.IntN(1_000_000))
		if !taken(n) {
			return n
		}
	}
}
