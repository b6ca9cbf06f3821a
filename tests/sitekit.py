"""Crawling the site copy under the site's real names: ``www.nbd.com.cn``, its channel hosts
and ``www.mrjjxw.com`` all resolve to 127.0.0.1, where the site copy answers by ``Host``."""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import defer
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from newsbot.urls import is_site_host
from tests.crawlkit import LoopbackResolver


@implementer(IResolverSimple)
class SiteNamesOnLoopbackResolver(LoopbackResolver):
    """``DNS_RESOLVER``: every name of the site (nbd.com.cn and its subdomains, the spam hosts
    excepted; www.mrjjxw.com) is 127.0.0.1; loopback addresses are themselves; every other name
    fails, so nothing can leave the machine."""

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if is_site_host(name.rstrip(".")):
            return defer.succeed("127.0.0.1")
        return super().getHostByName(name, timeout)
