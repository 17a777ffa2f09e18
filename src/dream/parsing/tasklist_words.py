"""The words ``tasklist`` prints in each Windows display language: its column headers (table,
``/fo csv``, ``/fo list``) and what it writes for "not available".

Headers are matched lower-cased. A table whose header is not recognised still parses, by
tasklist's fixed column order; CSV and list headers name the columns, so every language needs
its words here. Where each language's words were read is in tests/parsing/README.md.
"""

from __future__ import annotations

IMAGE, PID, SESSION_NAME, SESSION, MEM, STATUS, USER, CPU_TIME, TITLE, SERVICES = (
    "image", "pid", "session_name", "session", "mem", "status", "user", "cpu_time",
    "window_title", "services")
DEFAULT_LAYOUT = (IMAGE, PID, SESSION_NAME, SESSION, MEM)
VERBOSE_LAYOUT = DEFAULT_LAYOUT + (STATUS, USER, CPU_TIME, TITLE)
SERVICES_LAYOUT = (IMAGE, PID, SERVICES)

# One row per language: image, session name, session#, memory, status, user, CPU time, window
# title, services/modules (any number of spellings each).
WORDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (("image name",), ("session name",), ("session#",), ("mem usage",), ("status",),
           ("user name",), ("cpu time",), ("window title",), ("services", "modules")),
    "de": (("abbildname",), ("sitzungsname",), ("sitz.-nr.", "sitzungsnr."),
           ("speichernutzung",), ("status",), ("benutzername",), ("cpu-zeit",),
           ("fenstertitel",), ("dienste", "module")),
    "fr": (("nom de l'image", "nom de l’image"), ("nom de la session", "nom de session"),
           ("numéro de session", "n° de session"),
           ("utilisation de la mémoire", "utilisation mémoire"), ("état", "statut"),
           ("nom d'utilisateur", "nom d’utilisateur"), ("temps processeur", "temps uc"),
           ("titre de la fenêtre",), ("services", "modules")),
    "es": (("nombre de imagen",), ("nombre de sesión",), ("núm. de sesión",),
           ("uso de memoria",), ("estado",), ("nombre de usuario",), ("tiempo de cpu",),
           ("título de ventana",), ("servicios", "módulos")),
    "it": (("nome immagine",), ("nome sessione",), ("sessione n.", "num. sessione"),
           ("utilizzo memoria",), ("stato",), ("nome utente",), ("tempo cpu",),
           ("titolo finestra",), ("servizi", "moduli")),
    "pt": (("nome da imagem",), ("nome da sessão",), ("sessão#", "nº da sessão", "n.º da sessão"),
           ("uso de memória", "utilização de memória"), ("status", "estado"),
           ("nome de usuário", "nome de utilizador"), ("tempo de cpu",),
           ("título da janela",), ("serviços", "módulos")),
    "ru": (("имя образа",), ("имя сессии",), ("№ сеанса",), ("память",), ("состояние",),
           ("пользователь",), ("время цп",), ("заголовок окна",), ("службы", "модули")),
    "ja": (("イメージ名",), ("セッション名",), ("セッション#",), ("メモリ使用量",), ("状態",),
           ("ユーザー名",), ("cpu 時間",), ("ウィンドウ タイトル",), ("サービス", "モジュール")),
    "zh-CN": (("映像名称",), ("会话名",), ("会话#",), ("内存使用",), ("状态",), ("用户名",),
              ("cpu 时间",), ("窗口标题",), ("服务", "模块")),
    "zh-TW": (("映像名稱",), ("工作階段名稱",), ("工作階段 #", "工作階段#"), ("ram 使用量",),
              ("狀態",), ("使用者名稱",), ("cpu 時間",), ("視窗標題",), ("服務", "模組")),
    "ko": (("이미지 이름",), ("세션 이름",), ("세션#",), ("메모리 사용",), ("상태",),
           ("사용자 이름",), ("cpu 시간",), ("창 제목",), ("서비스", "모듈")),
    "pl": (("nazwa obrazu",), ("nazwa sesji",), ("numer sesji", "sesja#"), ("użycie pamięci",),
           ("stan",), ("nazwa użytkownika",), ("czas procesora", "czas procesora cpu"),
           ("tytuł okna",), ("usługi", "moduły")),
    "nl": (("installatiekopienaam",), ("sessienaam",), ("sessienummer", "sessie#"),
           ("geheugengebruik",), ("status",), ("gebruikersnaam",), ("cpu-tijd",),
           ("venstertitel",), ("services", "modules")),
    "tr": (("görüntü adı",), ("oturum adı",), ("oturum#",), ("bellek kullanımı",), ("durum",),
           ("kullanıcı adı",), ("cpu süresi",), ("pencere başlığı",), ("hizmetler", "modüller")),
    "sv": (("avbildningsnamn",), ("sessionsnamn",), ("session#",), ("minnesanvändning",),
           ("status",), ("användarnamn",), ("cpu-tid",), ("fönsterrubrik",),
           ("tjänster", "moduler")),
    "cs": (("název bitové kopie", "název obrazu"), ("název relace",), ("číslo relace",),
           ("využití paměti",), ("stav",), ("uživatelské jméno",), ("čas procesoru",),
           ("název okna",), ("služby", "moduly")),
}
WORD_KEYS = (IMAGE, SESSION_NAME, SESSION, MEM, STATUS, USER, CPU_TIME, TITLE, SERVICES)

HEADER_KEYS: dict[str, str] = {"pid": PID, "id de processus": PID, "id. de processus": PID}
for _language in WORDS.values():
    for _key, _spellings in zip(WORD_KEYS, _language, strict=True):
        for _spelling in _spellings:
            HEADER_KEYS[_spelling] = _key

# What tasklist prints for a value it cannot read (user, window title), per language.
NOT_AVAILABLE = frozenset({
    "", "N/A", "n/a",  # en, ja, ko, zh-TW, and most others for the window title
    "Nicht zutreffend", "Nicht verfügbar",  # de
    "Non applicable", "Non disponible",  # fr
    "No disponible", "N/D", "n/d",  # es, it, pt
    "Non disponibile",  # it
    "Н/Д", "н/д",  # ru
    "暂缺", "不适用",  # zh-CN
    "Nie dotyczy",  # pl
    "n.v.t.", "N.v.t.",  # nl
    "Yok", "Uygulanamaz",  # tr
    "Saknas", "Ej tillämpligt",  # sv
    "Nepoužitelné",  # cs
})
